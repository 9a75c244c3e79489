"""The README must stay true: every setting documented, the two commands shown."""

from pathlib import Path

from services.common.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_every_setting_is_documented_in_the_readme_and_the_example_env() -> None:
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    for field in Settings.model_fields:
        variable = field.upper()
        assert f"`{variable}`" in readme, f"{variable} is not in README.md"
        assert variable in example, f"{variable} is not in .env.example"


def test_the_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme
