"""The docs are the way in: every relative link resolves, anchors included, and the README stays a door."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    *(ROOT / folder / "README.md" for folder in ("benchmarks", "frontend", "model_repository")),
    ROOT / "benchmarks" / "RESULTS.md",
]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
# References to what a reader of the repository does not have. (The Makefile's DATA default, a folder
# beside the clone, is a value shown in docs/configuration.md, not a reference.)
OUTSIDE = re.compile(r"ARCHITECTURE\.md|FINDINGS|\.\./shared/(?!data\b)|\bissues? \d+")


def prose(page: Path) -> str:
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def anchors(page: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", prose(page), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    for target in LINK.findall(prose(page)):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not ours to check
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.is_relative_to(ROOT), f"{page.name}: {target} points outside the repository"
        assert resolved.exists(), f"{page.name}: {target} does not exist"
        if anchor:
            assert resolved.suffix == ".md", (
                f"{page.name}: {target}: an anchor into a file that is not a page"
            )
            assert anchor in anchors(resolved), f"{page.name}: {target}: no such heading in {resolved.name}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_no_page_refers_to_what_is_not_in_the_repository(page: Path) -> None:
    found = OUTSIDE.findall(page.read_text(encoding="utf-8"))
    assert not found, f"{page.name} mentions {found}: point at docs/ instead"


def test_the_readme_is_a_door() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200, "README.md is over 200 lines: move the detail into docs/"
    commands = "".join(FENCE.findall(readme))
    assert "make run" in commands
    assert "make test" in commands
    assert "```mermaid" in readme, "the architecture diagram"


def test_no_code_refers_to_what_is_not_in_the_repository() -> None:
    suffixes = {".py", ".ts", ".tsx", ".mjs", ".yml", ".toml"}
    sources = [
        path
        for folder in ("services", "export", "benchmarks", "tests", "frontend/src", "frontend/e2e")
        for path in (ROOT / folder).rglob("*")
        if path.suffix in suffixes and path != Path(__file__).resolve() and "node_modules" not in path.parts
    ]
    sources += [
        ROOT / name for name in ("Makefile", "docker-compose.yml", "docker-compose.gpu.yml", "pyproject.toml")
    ]
    found = {
        str(path.relative_to(ROOT)): hits
        for path in sources
        if (hits := OUTSIDE.findall(path.read_text(encoding="utf-8", errors="replace")))
    }
    assert not found, f"references outside the repository (point at docs/ instead): {found}"
