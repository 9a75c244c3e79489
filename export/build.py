"""``python -m export build``: bundled model -> checked ONNX graph -> Triton model repository."""

import logging
import tempfile
from pathlib import Path

from export.bundle import WEIGHTS, encoder_dir, load_bundle, load_tokenizer
from export.onnx_export import check_onnx, export_onnx
from export.repository import write_repository
from services.common.inference.spec import TOKENIZER_FILE

log = logging.getLogger("export.build")


def build(repository: Path, weights: Path = WEIGHTS) -> Path:
    model, card = load_bundle(weights)
    tokenizer = load_tokenizer()
    with tempfile.TemporaryDirectory(prefix="export-") as scratch:
        onnx = Path(scratch) / "model.onnx"
        log.info("exporting %s to ONNX", card.model_name)
        export_onnx(model, tokenizer, onnx)
        check_onnx(model, tokenizer, onnx)
        folder = write_repository(
            repository, onnx=onnx, tokenizer=encoder_dir() / TOKENIZER_FILE, model_name=card.model_name
        )
    log.info("wrote %s", folder)
    return folder
