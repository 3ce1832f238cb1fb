"""The server's settings: each one an option and a DYNALAB_SERVER_* variable, all in the README."""

from pathlib import Path

from dynalab.server.settings import Settings, env_variable, option_flag

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_with_its_option_and_variable():
    for name in Settings.model_fields:
        row = f"| `{option_flag(name)}` | `{env_variable(name)}` |"
        assert row in README, f"README lacks the setting {name} as {row}"
