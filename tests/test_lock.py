"""The images install hash-locked requirements (requirements/, `make lock`): each lock holds what
pyproject.toml asks for, is what a fresh resolution gives, and pip takes it with --require-hashes."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", re.M)
TIMEOUT_S = 180
# torch's CUDA build and what only it pulls in: the export lock must hold none of them.
CUDA = re.compile(r"nvidia-|cuda-|triton$")


def pins(lock: Path) -> dict[str, Version]:
    return {canonicalize_name(name): Version(v) for name, v in PIN.findall(lock.read_text(encoding="utf-8"))}


def is_torch(requirement: str) -> bool:
    return canonicalize_name(Requirement(requirement).name) == "torch"


BASE = [*PYPROJECT["project"]["dependencies"], *PYPROJECT["build-system"]["requires"]]
ML = PYPROJECT["project"]["optional-dependencies"]["ml"]
WANTED = {
    "runtime.txt": BASE,
    "export.txt": BASE + [r for r in ML if not is_torch(r)],
}


@pytest.mark.parametrize("name", sorted(WANTED))
def test_each_requirement_of_pyproject_is_pinned_in_its_range(name: str) -> None:
    pinned = pins(LOCKS / name)
    for line in WANTED[name]:
        requirement = Requirement(line)
        version = pinned.get(canonicalize_name(requirement.name))
        assert version is not None, f"requirements/{name} lacks {requirement.name}: run make lock"
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements/{name} pins {requirement.name}=={version}, outside {line!r}: run make lock"
        )


def test_the_export_image_takes_torch_alone_from_the_cpu_index() -> None:
    locked = sorted(name for name in pins(LOCKS / "export.txt") if name == "torch" or CUDA.match(name))
    assert not locked, f"requirements/export.txt holds {locked}: torch comes from PyTorch's CPU index"
    (wanted,) = [Requirement(r) for r in ML if is_torch(r)]
    (pinned,) = re.findall(r"\btorch==(\S+)", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    assert str(wanted.specifier) == f"=={Version(pinned).public}", "the Dockerfile's torch is not pyproject's"
    assert Version(pinned).local == "cpu", "the export image's torch is not the CPU build"


def run(command: list[str], what: str, env: dict[str, str] | None = None) -> None:
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} took over {TIMEOUT_S} s: is PyPI reachable?")
    assert done.returncode == 0, f"{what} failed:\n{done.stdout}{done.stderr}"


@pytest.mark.slow
def test_the_locks_are_what_make_lock_resolves_now(tmp_path: Path) -> None:
    # On copies, which uv reads for the pins to keep: a lock is stale when pyproject.toml asks for what it
    # does not hold, not when PyPI has a newer release in range.
    for name in WANTED:
        shutil.copy(LOCKS / name, tmp_path / name)
    run(["make", "--silent", "lock", f"VENV={sys.prefix}", f"LOCK_DIR={tmp_path}"], "make lock (PyPI)")
    for name in WANTED:
        committed, fresh = pins(LOCKS / name), pins(tmp_path / name)
        changes = [
            f"{package}: {committed.get(package)} -> {fresh.get(package)}"
            for package in sorted(committed.keys() | fresh.keys())
            if committed.get(package) != fresh.get(package)
        ]
        assert not changes, f"requirements/{name} is stale, run make lock: {changes}"


@pytest.mark.slow
def test_pip_installs_the_runtime_lock_with_its_hashes(tmp_path: Path) -> None:
    # An empty environment, and pip as the image runs it: PyPI only, none of this machine's mirrors or wheel
    # folders. --dry-run still downloads each wheel and checks its hash; it installs nothing.
    venv.create(tmp_path / "env", with_pip=False)
    config = {"PIP_CONFIG_FILE", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT"}
    env = {k: v for k, v in os.environ.items() if k not in config} | {"PIP_CONFIG_FILE": os.devnull}
    report = tmp_path / "report.json"
    lock = LOCKS / "runtime.txt"
    command = [sys.executable, "-m", "pip", "--python", str(tmp_path / "env" / "bin" / "python"), "install"]
    command += ["--dry-run", "--report", str(report), "--quiet", "--require-hashes", "--no-deps"]
    run([*command, "--only-binary", ":all:", "-r", str(lock)], "pip install --require-hashes", env)
    chosen = json.loads(report.read_text(encoding="utf-8"))["install"]
    would = {
        canonicalize_name(item["metadata"]["name"]): Version(item["metadata"]["version"]) for item in chosen
    }
    assert would == pins(lock), "pip would install other versions than the lock pins"
