import json
from pathlib import Path

from services.backend.contract import write
from services.common.events import PREVIEW_CHARS
from services.common.labels import Emotion, Sentiment


def test_the_contract_carries_the_label_sets_the_preview_length_and_every_field_sent(tmp_path: Path) -> None:
    write(tmp_path)
    api = json.loads((tmp_path / "openapi.json").read_text())["components"]["schemas"]
    events = json.loads((tmp_path / "events.json").read_text())["$defs"]
    assert api["Sentiment"]["enum"] == [s.value for s in Sentiment]
    assert api["Emotion"]["enum"] == [e.value for e in Emotion]
    assert api["Analysis"]["properties"]["label"] == {"$ref": "#/components/schemas/Sentiment"}
    assert events["PostData"]["properties"]["content"]["maxLength"] == PREVIEW_CHARS
    # `type` has a default, and is sent all the same
    assert sorted(events["PostEvent"]["required"]) == ["data", "type"]
