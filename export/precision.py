"""Other precisions of the exported graph: int8 dynamic quantization (CPU) and fp16 (GPU)."""

import logging
from pathlib import Path

import onnx
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers.float16 import convert_float_to_float16

log = logging.getLogger("export.precision")


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 with per-channel weights: it kept more agreement with fp32 than per-tensor did."""
    quantize_dynamic(source, target, per_channel=True, weight_type=QuantType.QInt8)
    log.info("int8 graph: %.1f MB (fp32 %.1f MB)", target.stat().st_size / 1e6, source.stat().st_size / 1e6)


def convert_fp16(source: Path, target: Path) -> None:
    """fp16 weights and arithmetic, fp32 inputs and outputs (so clients and configs do not change)."""
    model = convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    onnx.save(model, str(target))
    log.info("fp16 graph: %.1f MB", target.stat().st_size / 1e6)
