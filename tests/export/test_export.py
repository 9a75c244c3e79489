import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from google.protobuf import text_format
from torch import nn
from tritonclient.grpc import model_config_pb2

from export.bundle import Bundle, load_bundle, load_tokenizer
from export.onnx_export import ATOL, ExportMismatch, check_onnx
from export.repository import PROFILES, sha256
from services.common.inference.spec import INPUTS, MANIFEST_FILE, MODEL, OUTPUTS, TOKENIZER_FILE

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def bundle() -> Bundle:
    return load_bundle()[0]


def test_the_exported_graph_matches_pytorch(bundle: Bundle, repository: Path) -> None:
    assert check_onnx(bundle, load_tokenizer(), repository / MODEL / "1" / "model.onnx") <= ATOL


def test_drift_beyond_the_tolerance_is_fatal(bundle: Bundle, repository: Path) -> None:
    drifted = Bundle(bundle.encoder, load_bundle()[0].heads)
    with torch.no_grad():
        drifted.heads.sentiment.bias.add_(1e-3)
    with pytest.raises(ExportMismatch, match="logits differ from PyTorch"):
        check_onnx(drifted, load_tokenizer(), repository / MODEL / "1" / "model.onnx")


def test_a_shape_mismatch_is_fatal(bundle: Bundle, repository: Path) -> None:
    heads = load_bundle()[0].heads
    heads.emotion = nn.Sequential(nn.Linear(384, 8))
    with pytest.raises(ExportMismatch, match="emotion_logits: ONNX shape"):
        check_onnx(Bundle(bundle.encoder, heads), load_tokenizer(), repository / MODEL / "1" / "model.onnx")


def test_the_repository_has_every_profile_and_no_default_config(repository: Path) -> None:
    folder = repository / MODEL
    assert not (folder / "config.pbtxt").exists()
    assert sorted(p.stem for p in (folder / "configs").iterdir()) == sorted(PROFILES)
    configs = {profile: (folder / "configs" / f"{profile}.pbtxt").read_text() for profile in PROFILES}
    for profile, backend, kind in [
        ("gpu", "onnxruntime", "KIND_GPU"),
        ("cpu", "onnxruntime", "KIND_CPU"),
        ("embedded", "python", "KIND_CPU"),
    ]:
        assert f'backend: "{backend}"' in configs[profile]
        assert f"kind: {kind}" in configs[profile]
    assert "allow_ragged_batch: true" in configs["embedded"]
    manifest = json.loads((folder / "1" / MANIFEST_FILE).read_text())
    assert manifest["tokenizer_sha256"] == sha256(folder / "1" / TOKENIZER_FILE)
    assert all(manifest["tokenizer_sha256"] in config for config in configs.values())
    assert manifest["model_name"].startswith("minilm-bundle@")
    assert manifest["languages"] == ["en"], "what INGEST_LANGUAGES defaults to"
    assert (folder / "1" / "model.py").is_file()


@pytest.mark.parametrize("task", ["sentiment", "emotion"])
def test_evaluate_prints_the_figures_as_json_on_its_last_line(task: str) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "export",
            "evaluate",
            "--task",
            task,
            "--data",
            str(FIXTURES / f"{task}.jsonl"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(figures) == {"accuracy", "macro_f1", "macro_recall"}
    # 18 plain posts: a model that works gets most of them right.
    assert figures["accuracy"] >= 0.6


@pytest.mark.parametrize("profile", PROFILES)
def test_each_config_is_a_valid_triton_model_config(repository: Path, profile: str) -> None:
    text = (repository / MODEL / "configs" / f"{profile}.pbtxt").read_text()
    config = text_format.Parse(text, model_config_pb2.ModelConfig())  # raises on an unknown field
    assert config.name == MODEL
    assert [i.name for i in config.input] == list(INPUTS)
    assert [o.name for o in config.output] == list(OUTPUTS)
    served = config.default_model_filename or config.parameters["onnx_file"].string_value
    assert (repository / MODEL / "1" / served).is_file()


def test_the_client_side_never_imports_torch() -> None:
    code = "import sys, services.common.inference.fallback; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False, timeout=60).returncode == 0
