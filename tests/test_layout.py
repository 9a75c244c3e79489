"""The tree keeps its shape: each service imports only its own room and services/common, and no module
grows past what one concept needs."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "services"
MAX_LINES = 400
# One class, one concept however long (the settings); frozen snapshots (migrations).
EXEMPT = {SERVICES / "common" / "settings.py"}
LIMITS = {SERVICES / "worker" / "worker.py": 300}  # the batch lifecycle, and nothing else


def modules() -> list[Path]:
    return [p for p in sorted(SERVICES.rglob("*.py")) if "migrations" not in p.parts]


def imported(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_service_imports_only_its_own_room_and_common(path: Path) -> None:
    room = path.relative_to(SERVICES).parts[0]
    allowed = {"services.common"} if room == "common" else {"services.common", f"services.{room}"}
    theirs = {
        name
        for name in imported(path)
        if name.startswith("services.") and not any(name == a or name.startswith(a + ".") for a in allowed)
    }
    assert not theirs, f"{path.relative_to(ROOT)} reaches into {sorted(theirs)}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_grows_past_one_concept(path: Path) -> None:
    if path in EXEMPT:
        return
    lines = len(path.read_text(encoding="utf-8").splitlines())
    limit = LIMITS.get(path, MAX_LINES)
    assert lines <= limit, (
        f"{path.relative_to(ROOT)} has {lines} lines (at most {limit}): split it by concept"
    )
