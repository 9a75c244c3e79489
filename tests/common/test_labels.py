import pytest

from services.common.labels import Emotion, Sentiment, to_emotion, to_sentiment


def test_the_label_sets_are_the_architectures() -> None:
    assert [s.value for s in Sentiment] == ["negative", "neutral", "positive"]
    assert [e.value for e in Emotion] == ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]


def test_checkpoint_names_map_onto_ours() -> None:
    assert to_sentiment(" Positive ") is Sentiment.POSITIVE
    assert to_emotion("optimism") is Emotion.JOY
    assert to_emotion("FEAR") is Emotion.FEAR


@pytest.mark.parametrize("name", ["LABEL_0", "love", ""])
def test_a_name_we_cannot_place_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="is not a valid"):
        to_emotion(name)
