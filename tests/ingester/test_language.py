"""A post's language (services/ingester/language.py): the declared one unless the text plainly says
otherwise, und when too short to tell and none declared, and the languages analysed by default those the served model's
manifest names."""

import json
import logging
from pathlib import Path

import pytest

from services.common.inference.spec import MANIFEST_FILE, MODEL
from services.common.settings import Settings
from services.ingester.language import Languages

ENGLISH = "The new release fixed the bug I reported last week, thank you all"
GERMAN = "Das neue Update hat den Fehler behoben, den ich letzte Woche gemeldet habe, danke euch allen"


def repository(tmp_path: Path, manifest: dict[str, object] | None) -> Path:
    if manifest is not None:
        (tmp_path / MODEL / "1").mkdir(parents=True)
        (tmp_path / MODEL / "1" / MANIFEST_FILE).write_text(json.dumps(manifest))
    return tmp_path


def test_the_served_models_languages_are_analysed_unless_ingest_languages_says(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    served = repository(tmp_path / "multilingual", {"model_name": "hf:x", "languages": ["en", "de-DE"]})
    by_manifest = Languages.for_settings(
        settings.model_copy(update={"model_repository": served, "ingest_languages": []})
    )
    assert by_manifest.wanted == {"en", "de"}
    chosen = settings.model_copy(update={"model_repository": served, "ingest_languages": ["fr"]})
    assert Languages.for_settings(chosen).wanted == {"fr"}
    older = repository(tmp_path / "older", {"model_name": "minilm-bundle@1"})
    with caplog.at_level(logging.WARNING, "ingester"):
        for folder in (older, tmp_path / "none"):
            unknown = settings.model_copy(update={"model_repository": folder, "ingest_languages": []})
            assert Languages.for_settings(unknown).wanted == {"en"}
    assert "names no languages" in caplog.text
    assert "FileNotFoundError" in caplog.text


def test_the_declared_language_holds_unless_the_text_plainly_says_otherwise() -> None:
    languages = Languages(["en"])
    assert languages.of(ENGLISH) == "en", "identified, none declared"
    assert languages.of(GERMAN, "en") == "de", "a confident disagreement wins"
    assert languages.of(ENGLISH, "en-GB") == "en"
    assert languages.of("ok 👍 https://example.com #tag") == "und", "too few letters to tell"
    assert languages.of("ok 👍 https://example.com #tag", "de") == "de", "nothing says otherwise"
    assert languages.analysed("und")
    assert languages.analysed("en")
    assert not languages.analysed("de")
