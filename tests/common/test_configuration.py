"""docs/configuration.md and .env.example are generated: committed as written, with the real defaults."""

import re
from pathlib import Path

import pytest

from services.common import configuration, variables
from services.common.configuration import COMMAND, groups, outputs, stale
from services.common.settings import Settings
from services.common.variables import OTHER

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_files_are_what_the_command_writes() -> None:
    assert not stale(), f"{', '.join(map(str, stale()))} out of date: run {COMMAND}"


def test_every_setting_appears_once_with_its_description() -> None:
    shown = [v for group in groups() for v in group.variables if v.name.lower() in Settings.model_fields]
    assert sorted(v.name.lower() for v in shown) == sorted(Settings.model_fields)
    markdown = outputs()[configuration.MARKDOWN]
    for name, field in Settings.model_fields.items():
        assert markdown.count(f"| `{name.upper()}` |") == 1
        assert field.description


def test_a_setting_left_out_of_the_groups_fails_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(configuration, "SETTINGS_GROUPS", variables.SETTINGS_GROUPS[1:])
    with pytest.raises(ValueError, match="DATABASE_URL"):
        groups()


def test_the_defaults_shown_are_the_settings_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    shown = {v.name: v.default for group in groups() for v in group.variables}
    for name in Settings.model_fields:
        monkeypatch.setenv(name.upper(), shown[name.upper()] or "")  # empty: unset, the default applies
    read_back = Settings()
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        assert getattr(read_back, name) == default, f"{name.upper()} is shown as {shown[name.upper()]!r}"


def test_secrets_are_shown_without_a_default() -> None:
    shown = {v.name: v for group in groups() for v in group.variables}
    for secret in ("API_KEY", "INGEST_TOKEN", "LLM_API_KEY", "POSTGRES_PASSWORD"):
        assert shown[secret].default is None
    example = outputs()[configuration.EXAMPLE]
    assert "\nPOSTGRES_PASSWORD=\n" in example, "the one value Compose cannot do without is left to fill in"
    assert "\n# API_KEY=\n" in example
    assert "\n# WORKER_BATCH_SIZE=64\n" in example


def test_the_compose_and_makefile_defaults_shown_are_theirs() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for variable in (v for group in OTHER for v in group.variables):
        in_compose = re.findall(rf"\$\{{{variable.name}:([-?])([^}}]*)\}}", compose)
        in_make = re.findall(rf"^{variable.name} \?=[ \t]*(.*)$", makefile, re.M)
        assert in_compose or in_make, f"neither docker-compose.yml nor the Makefile reads {variable.name}"
        for kind, fallback in in_compose:
            assert (kind == "?") == (variable.default is None), variable.name
            if kind == "-":
                assert fallback == variable.default, (
                    f"docker-compose.yml: {variable.name} defaults to {fallback}"
                )
        for fallback in in_make:
            assert fallback.strip() == variable.default, f"Makefile: {variable.name} ?= {fallback}"


def test_check_names_each_stale_file_and_the_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(configuration, "ROOT", tmp_path)
    (tmp_path / ".env.example").write_text(outputs()[configuration.EXAMPLE])
    assert configuration.main(["--check"]) == 1
    assert capsys.readouterr().err == f"docs/configuration.md is out of date: run {COMMAND}\n"
    (tmp_path / "docs").mkdir()
    assert configuration.main(["--write"]) == 0
    assert configuration.main(["--check"]) == 0
