"""The README documents what the code does: every config field and every exit code."""

import textwrap
from pathlib import Path

import dynalab.workflow

from dynalab.project.schema import describe
from dynalab.errors import EXIT_CODES

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


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


def test_the_own_tasks_py_example_is_the_tested_fixture_project():
    # tests/cli/test_own_tasks_py.py runs that project's tasks.py with plain invoke.
    fixture = (REPO / "tests" / "projects" / "own-tasks-py" / "tasks.py").read_text(encoding="utf-8")
    assert f"```python\n{fixture}```" in README
    assert textwrap.indent(fixture, "    ") in dynalab.workflow.__doc__
