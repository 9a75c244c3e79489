"""The Triton client against the real tritonserver serving the bundled model."""

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient

from export.onnx_export import tokenize
from services.common.inference.spec import INPUTS, MODEL, OUTPUTS, TOKENIZER_FILE
from services.common.inference.tokenizer import load_tokenizer
from services.common.inference.triton_client import TritonClassifier, plan, softmax
from services.common.inference.types import InferenceUnavailable, ModelMismatch
from services.common.labels import Emotion, Sentiment
from services.launcher.tritonserver import EmbeddedTriton
from tests.support import free_port, start_triton

POSTS = [
    "I absolutely love this, best day of my life! 😍",
    "This is the worst service I have ever had. I hate it.",
    "The council meeting starts at 7pm in room 204.",
    "so tired of waiting for this update smh",
    "Nouvelle version disponible aujourd'hui",
]


@pytest.fixture
async def classifier(triton: EmbeddedTriton, repository: Path) -> AsyncIterator[TritonClassifier]:
    client = TritonClassifier(triton.url, repository)
    yield client
    await client.close()


def manifest(repository: Path) -> dict[str, str]:
    return json.loads((repository / MODEL / "1" / "manifest.json").read_text())  # type: ignore[no-any-return]


def tolerance(repository: Path) -> float:
    """How far two runs of the served graph may differ. fp32: only float noise. int8 (dynamic quantization)
    takes each request's activation scales from the texts it holds, so a post's scores move a little with
    the posts it is sent with."""
    graph = manifest(repository)["graphs"]["embedded"]  # type: ignore[index]
    return 1e-4 if graph == "model.onnx" else 0.06


async def test_triton_agrees_with_in_process_onnx_runtime(
    classifier: TritonClassifier, repository: Path
) -> None:
    result = await classifier.classify(POSTS)
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


async def test_obvious_posts_get_the_obvious_labels(classifier: TritonClassifier) -> None:
    [love, hate, meeting, *_] = (await classifier.classify(POSTS)).predictions
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
async def test_awkward_input_never_fails(classifier: TritonClassifier, text: str) -> None:
    [prediction] = (await classifier.classify([text])).predictions
    assert prediction.sentiment in Sentiment
    assert prediction.emotion in Emotion


async def test_a_batch_is_sent_in_requests_by_length_and_answered_in_order(
    classifier: TritonClassifier, repository: Path
) -> None:
    # Lengths all over the place, so that the requests group texts from all over the batch.
    texts = [f"{POSTS[i % len(POSTS)]} #{i}" + " and so on" * (i % 9) for i in range(75)]
    together = (await classifier.classify(texts)).predictions
    assert len(together) == 75
    for i in (0, 33, 40, 74):
        [alone] = (await classifier.classify([texts[i]])).predictions
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


async def test_an_empty_batch_makes_no_call(classifier: TritonClassifier) -> None:
    assert (await classifier.classify([])).predictions == []


async def test_a_batch_split_into_concurrent_requests_answers_like_one_text_at_a_time(
    classifier: TritonClassifier, repository: Path
) -> None:
    together = (await classifier.classify(POSTS * 10)).predictions
    first = [p.sentiment_confidence for p in together[:5]]
    assert [p.sentiment_confidence for p in together[-5:]] == pytest.approx(first, abs=tolerance(repository))
    alone = [(await classifier.classify([text])).predictions[0].sentiment_confidence for text in POSTS]
    assert alone == pytest.approx(first, abs=tolerance(repository))


async def test_a_stopped_server_gives_the_typed_error(repository: Path, tmp_path: Path) -> None:
    server = start_triton(repository, tmp_path)
    client = TritonClassifier(server.url, repository, timeout_s=2)
    try:
        assert await client.healthy()
        assert (await client.classify(["fine"])).predictions
        server.stop()
        assert not await client.healthy()
        with pytest.raises(InferenceUnavailable, match=server.url):
            await client.classify(["anyone there?"])
    finally:
        server.stop()
        await client.close()


async def test_nothing_listening_gives_the_typed_error(repository: Path) -> None:
    client = TritonClassifier(f"127.0.0.1:{free_port()}", repository, timeout_s=2)
    with pytest.raises(InferenceUnavailable):
        await client.classify(["hello"])
    await client.close()


async def test_a_tokenizer_that_does_not_belong_to_the_model_is_refused(
    triton: EmbeddedTriton, tmp_path: Path
) -> None:
    local = tmp_path / "repo"
    shutil.copytree(triton.repository, local)
    tokenizer = local / MODEL / "1" / TOKENIZER_FILE
    data = json.loads(tokenizer.read_text())
    data["model"]["vocab"]["[unused0]"] = 99999  # another tokenizer: one entry differs
    tokenizer.write_text(json.dumps(data))
    client = TritonClassifier(triton.url, local)
    with pytest.raises(ModelMismatch, match="does not belong to the served model"):
        await client.classify(["hello"])
    await client.close()


def test_the_served_model_has_the_tensors_of_the_spec(triton: EmbeddedTriton) -> None:
    client = grpcclient.InferenceServerClient(triton.url)
    try:
        metadata = client.get_model_metadata(MODEL, as_json=True)
    finally:
        client.close()
    assert tuple(output["name"] for output in metadata["outputs"]) == OUTPUTS
    assert {i["name"] for i in metadata["inputs"]} == set(INPUTS)


async def test_the_client_batches_up_to_what_the_server_takes(classifier: TritonClassifier) -> None:
    served = await classifier.connect()
    assert served.max_batch_size == 32
    assert classifier.model_name == served.model_name
