import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from export.onnx_export import tokenize
from services.common.inference.client import (
    AsyncClassifier,
    Classifier,
    InferenceUnavailable,
    ModelMismatch,
    load_tokenizer,
    plan,
    softmax,
)
from services.common.inference.embedded import EmbeddedTriton, TritonStartError
from services.common.inference.spec import EMOTION_LOGITS, MODEL, OUTPUTS, SENTIMENT_LOGITS, TOKENIZER_FILE
from services.common.labels import Emotion, Sentiment
from tests.support import free_port, start_triton

POSTS = [
    "I absolutely love this, best day of my life! 😍",
    "This is the worst service I have ever had. I hate it.",
    "The council meeting starts at 7pm in room 204.",
    "so tired of waiting for this update smh",
    "Nouvelle version disponible aujourd'hui",
]


@pytest.fixture
def classifier(triton: EmbeddedTriton, repository: Path) -> Iterator[Classifier]:
    client = Classifier(triton.url, repository)
    yield client
    client.close()


def manifest(repository: Path) -> dict[str, str]:
    return json.loads((repository / MODEL / "1" / "manifest.json").read_text())  # type: ignore[no-any-return]


def tolerance(repository: Path) -> float:
    """How far two runs of the served graph may differ. fp32: only float noise. int8 (dynamic quantization)
    takes each request's activation scales from the texts it holds, so a post's scores move a little with
    the posts it is sent with."""
    graph = manifest(repository)["graphs"]["embedded"]  # type: ignore[index]
    return 1e-4 if graph == "model.onnx" else 0.06


def test_triton_agrees_with_in_process_onnx_runtime(classifier: Classifier, repository: Path) -> None:
    result = classifier.classify(POSTS)
    graph = manifest(repository)["graphs"]["embedded"]  # type: ignore[index]
    session = ort.InferenceSession(str(repository / MODEL / "1" / graph), providers=["CPUExecutionProvider"])
    tokenizer = load_tokenizer(
        repository / MODEL / "1" / TOKENIZER_FILE, manifest(repository)["tokenizer_sha256"]
    )
    sentiment, emotion = session.run(list(OUTPUTS), tokenize(tokenizer, POSTS))
    got_sentiment = np.array([[p.sentiment_scores[s] for s in Sentiment] for p in result.predictions])
    got_emotion = np.array([[p.emotion_scores[e] for e in Emotion] for p in result.predictions])
    np.testing.assert_allclose(got_sentiment, softmax(sentiment), atol=tolerance(repository))
    np.testing.assert_allclose(got_emotion, softmax(emotion), atol=tolerance(repository))
    assert got_sentiment.argmax(1).tolist() == softmax(sentiment).argmax(1).tolist()
    assert result.model_name == manifest(repository)["model_name"]
    assert result.model_version == "1"


def test_obvious_posts_get_the_obvious_labels(classifier: Classifier) -> None:
    [love, hate, meeting, *_] = classifier.classify(POSTS).predictions
    assert love.sentiment is Sentiment.POSITIVE
    assert love.emotion is Emotion.JOY
    assert hate.sentiment is Sentiment.NEGATIVE
    assert meeting.sentiment is Sentiment.NEUTRAL
    for prediction in (love, hate, meeting):
        assert 0.0 <= prediction.sentiment_confidence <= 1.0
        assert prediction.sentiment_confidence == max(prediction.sentiment_scores.values())
        assert sum(prediction.emotion_scores.values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "text",
    ["", "   \n\t", "word " * 5000, "東京は今日とても暑いです", "🔥🔥🔥💯", "\u200b\u200b", "a\x00b"],
    ids=["empty", "whitespace", "25k-chars", "japanese", "emoji-only", "zero-width", "nul"],
)
def test_awkward_input_never_fails(classifier: Classifier, text: str) -> None:
    [prediction] = classifier.classify([text]).predictions
    assert prediction.sentiment in Sentiment
    assert prediction.emotion in Emotion


def test_a_batch_is_sent_in_requests_by_length_and_answered_in_order(
    classifier: Classifier, repository: Path
) -> None:
    # Lengths all over the place, so that the requests group texts from all over the batch.
    texts = [f"{POSTS[i % len(POSTS)]} #{i}" + " and so on" * (i % 9) for i in range(75)]
    together = classifier.classify(texts).predictions
    assert len(together) == 75
    for i in (0, 33, 40, 74):
        [alone] = classifier.classify([texts[i]]).predictions
        assert alone.sentiment == together[i].sentiment
        assert alone.sentiment_scores == pytest.approx(
            together[i].sentiment_scores, abs=tolerance(repository)
        )


def test_requests_hold_texts_of_about_one_length_padded_only_to_their_own(repository: Path) -> None:
    tokenizer = load_tokenizer(
        repository / MODEL / "1" / TOKENIZER_FILE, manifest(repository)["tokenizer_sha256"]
    )
    texts = ["short", "a much longer post " * 6, "mid length post here", "tiny", "another long one " * 5]
    requests = plan(tokenizer, texts, 2)
    assert sorted(int(row) for rows, _ in requests for row in rows) == list(range(5))
    widths = [inputs[0].shape()[1] for _, inputs in requests]
    assert widths == sorted(widths), "sorted by length"
    assert widths[0] < widths[-1] / 4, "the short texts are not padded to the long ones"
    assert [len(rows) for rows, _ in requests] == [2, 2, 1]


def test_an_empty_batch_makes_no_call(classifier: Classifier) -> None:
    assert classifier.classify([]).predictions == []


def test_the_asyncio_client_gives_the_same_answers(triton: EmbeddedTriton, repository: Path) -> None:
    async def both() -> tuple[list[float], list[float]]:
        client = AsyncClassifier(triton.url, repository)
        try:
            assert await client.healthy()
            result = await client.classify(POSTS * 10)
        finally:
            await client.close()
        return [p.sentiment_confidence for p in result.predictions[:5]], [
            p.sentiment_confidence for p in result.predictions[-5:]
        ]

    first, last = asyncio.run(both())
    assert first == pytest.approx(last, abs=tolerance(repository))
    sync = Classifier(triton.url, repository)
    assert [p.sentiment_confidence for p in sync.classify(POSTS).predictions] == pytest.approx(
        first, abs=tolerance(repository)
    )
    sync.close()


def test_a_stopped_server_gives_the_typed_error(repository: Path, tmp_path: Path) -> None:
    server = start_triton(repository, tmp_path)
    client = Classifier(server.url, repository, timeout_s=2)
    assert client.healthy()
    assert client.classify(["fine"]).predictions
    server.stop()
    assert not client.healthy()
    with pytest.raises(InferenceUnavailable, match=server.url):
        client.classify(["anyone there?"])
    client.close()


def test_nothing_listening_gives_the_typed_error(repository: Path) -> None:
    client = Classifier(f"127.0.0.1:{free_port()}", repository, timeout_s=2)
    with pytest.raises(InferenceUnavailable):
        client.classify(["hello"])
    client.close()


def test_a_tokenizer_that_does_not_belong_to_the_model_is_refused(
    triton: EmbeddedTriton, tmp_path: Path
) -> None:
    local = tmp_path / "repo"
    shutil.copytree(triton.repository, local)
    tokenizer = local / MODEL / "1" / TOKENIZER_FILE
    data = json.loads(tokenizer.read_text())
    data["model"]["vocab"]["[unused0]"] = 99999  # another tokenizer: one entry differs
    tokenizer.write_text(json.dumps(data))
    client = Classifier(triton.url, local)
    with pytest.raises(ModelMismatch, match="does not belong to the served model"):
        client.classify(["hello"])
    client.close()


def test_a_missing_profile_config_is_an_error_not_a_fallback(repository: Path, tmp_path: Path) -> None:
    local = tmp_path / "repo"
    shutil.copytree(repository, local)
    (local / MODEL / "configs" / "embedded.pbtxt").unlink()
    with pytest.raises(TritonStartError, match="no embedded profile config"):
        EmbeddedTriton(local, grpc_port=free_port()).start()


def test_the_served_outputs_are_the_spec(classifier: Classifier) -> None:
    served = classifier.connect()
    assert served.max_batch_size == 32
    assert (SENTIMENT_LOGITS, EMOTION_LOGITS) == OUTPUTS
