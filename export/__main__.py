"""python -m export: train, evaluate and export the models.

python -m export train --data DIR            train the bundled model (writes export/weights/)
python -m export evaluate --task sentiment --data FILE.jsonl
                                              accuracy, macro-F1, macro-recall as JSON on the last line
python -m export build [--repository DIR]     ONNX export, checked against PyTorch, into Triton's repository
"""

import argparse
import json
import os
import sys
from pathlib import Path

from services.common.cli import configure_logging

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train the bundled model: heads, then the adapted encoder")
    train.add_argument("--data", type=Path, required=True, help="folder of the labelled JSONL files")
    train.add_argument("--version", default="2", help="version written into model_name (default 2)")
    train.add_argument("--out", type=Path, help="where to write the weights (default export/weights)")
    train.add_argument("--folds", type=int, default=5, help="k-fold on the tweets first (0 or 1: skip)")
    train.add_argument("--frozen-only", action="store_true", help="only the heads on the frozen encoder")
    train.add_argument("--limit", type=int, help="adaptation: examples per epoch (a quick trial)")

    evaluate = commands.add_parser("evaluate", help="score the bundled model on a labelled file")
    evaluate.add_argument("--task", choices=["sentiment", "emotion"], required=True)
    evaluate.add_argument("--data", type=Path, required=True, help='JSONL rows {"text", "label"}')
    evaluate.add_argument("--weights", type=Path, help="heads to load (default export/weights)")
    evaluate.add_argument("--onnx", type=Path, help="score this exported graph (e.g. the int8 one) instead")

    build = commands.add_parser("build", help="export the bundled model into the Triton model repository")
    build.add_argument("--repository", type=Path, default=Path("model_repository"))
    build.add_argument("--weights", type=Path, help="heads to load (default export/weights)")
    build.add_argument(
        "--cpu-precision",
        choices=["int8", "fp32"],
        help="graph the CPU and embedded profiles serve (default fp32)",
    )

    hf = commands.add_parser("hf", help="export two Hugging Face classification checkpoints as one model")
    hf.add_argument("--sentiment-model", required=True, help="hub id or local folder")
    hf.add_argument("--emotion-model", required=True, help="hub id or local folder")
    hf.add_argument("--repository", type=Path, default=Path("model_repository"))
    hf.add_argument("--sentiment-labels", help="our name for each output column, comma-separated, in order")
    hf.add_argument("--emotion-labels", help="our name for each output column, comma-separated, in order")
    hf.add_argument(
        "--languages",
        default="en",
        help="the languages the checkpoints were trained for, comma-separated (default en): the manifest "
        "says them, and the live sources analyse those unless INGEST_LANGUAGES says otherwise",
    )

    args = parser.parse_args(argv)
    configure_logging()

    if args.command == "train":
        from dataclasses import replace

        from export.adapt import AdaptRecipe
        from export.train import train as run_train

        recipe = None if args.frozen_only else AdaptRecipe()
        if recipe and args.limit:
            recipe = replace(recipe, limit=args.limit)
        options = {"out": args.out} if args.out else {}
        figures = run_train(args.data, args.version, folds=args.folds, adapted=recipe, **options)
        print(json.dumps(figures))
        return 0
    if args.command == "evaluate":
        from export.evaluate import evaluate as run_evaluate

        result = run_evaluate(
            args.task, args.data, onnx=args.onnx, **({"weights": args.weights} if args.weights else {})
        )
        print(json.dumps(result))
        return 0
    if args.command == "build":
        from export.build import build as run_build

        options = {"weights": args.weights, "cpu_precision": args.cpu_precision}
        run_build(args.repository, **{k: v for k, v in options.items() if v is not None})
        return 0
    if args.command == "hf":
        from export.hf import export_hf

        export_hf(
            args.sentiment_model,
            args.emotion_model,
            args.repository,
            sentiment_labels=args.sentiment_labels.split(",") if args.sentiment_labels else None,
            emotion_labels=args.emotion_labels.split(",") if args.emotion_labels else None,
            languages=[lang.strip() for lang in args.languages.split(",") if lang.strip()],
        )
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
