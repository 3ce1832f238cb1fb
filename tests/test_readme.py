"""The README documents what the code does: every config field and every exit code."""

from pathlib import Path

from dynalab.config_schema import describe
from dynalab.errors import EXIT_CODES

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def test_every_config_field_is_in_the_config_reference():
    for field, kind, default, description in describe():
        assert f"| `{field}` | {kind} | {default} | {description} |" in README, f"README lacks config field {field}"


def test_every_exit_code_is_documented_as_the_cli_help_lists_it():
    for code, meaning in EXIT_CODES.items():
        assert f"\n| {code} | {meaning} |" in README, f"README lacks exit code {code} as {meaning!r}"


def test_ci_runs_the_readme_test_command():
    command = "bash .ci/setup && python -m pytest"
    assert f"```\n{command}\n```" in README
    ci_run = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert ci_run.rstrip().endswith(command)
