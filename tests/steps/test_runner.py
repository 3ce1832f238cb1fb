"""The runner: steps run in order, each needed step once per command, skipped when cached, the first failure stops."""

import pytest
from invoke import Collection
from invoke.parser import Parser

from dynalab import steps
from dynalab.cli.commands import commands
from dynalab.errors import LocalTestFailed
from dynalab.project import Project
from dynalab.steps.declarations import BY_NAME, STEPS
from dynalab.steps.runner import Runner

from steps_support import GREET


@pytest.fixture
def project(contract_nli):
    return contract_nli


def test_each_needed_step_runs_once_per_command_and_is_said_once(project, cli):
    result = cli("test", "--local", "-n", "m", "package", "-n", "m", "test", "-n", "m", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert out.count("Local test of model") == 1 and "Local test skipped" not in out
    assert out.count("Package .dynalab/m/build/m.tar.gz") == 1
    assert out.index("Local test passed") < out.index("Package ") < out.index("Integrated test passed")
    again = cli("test", "-n", "m", "upload", "-n", "m", "--api-url", "http://127.0.0.1:9", cwd=project,
                env={"DYNALAB_API_TOKEN": "t"})
    assert again.stdout.count("Local test skipped") == 1 and again.stdout.count("Integrated test skipped") == 1


def test_skipped_is_said_by_every_command_of_a_process(project):
    # Chained steps once hid repeated "skipped" lines with a set kept for the whole process.
    steps.local_test(Project(project), "m", out=lambda line: None)
    for _ in range(2):
        said = []
        result = steps.local_test(Project(project), "m", out=said.append)
        assert result.status == "skipped" and said == [said[0]] and said[0].startswith("Local test skipped")


def test_the_project_tree_is_walked_once_per_command(project, monkeypatch):
    import dynalab.packaging.selection as selection

    walks = []
    real = selection.scan
    monkeypatch.setattr(selection, "scan", lambda *args: walks.append(args) or real(*args))
    requests = [(BY_NAME["local_test"], {"name": "m"}), (BY_NAME["package"], {"name": "m"})]
    Runner(Project(project), STEPS, out=lambda line: None).run(requests)
    assert len(walks) == 1, "fingerprint, size warning and archive share one scan"


def test_the_first_failure_stops_the_command(make_project, cli):
    project = make_project("bad-label")
    assert cli("init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", cwd=project).returncode == 0
    result = cli("test", "--local", "-n", "m", "package", "-n", "m", cwd=project)
    assert result.returncode == 3
    assert "Package " not in result.stdout
    assert steps.package(Project(project), "m", out=lambda line: None).status == "passed"  # it needs no test
    with pytest.raises(LocalTestFailed):
        steps.integrated_test(Project(project), "m", out=lambda line: None)  # it needs the failing local test


def test_a_new_step_is_one_declaration(project):
    # The runner runs it (and what it needs)...
    said = []
    [result] = Runner(Project(project), STEPS + (GREET,), out=said.append).run([(GREET, {"name": "m", "greeting": "hey"})])
    assert result.status == "passed" and result.details == {"greeting": "hey"}
    assert result.needed == {"local_test": "passed"}
    assert said[-1] == "hello, m (hey)"
    # ...and the command line gets its command, flags and help from the same declaration.
    made = commands(steps=STEPS + (GREET,))
    assert [flag.option for flag in made["greet"].flags] == ["--name", "--greeting", "--wait", "--json"]
    parsed = Parser(contexts=Collection(*made.values()).to_contexts()).parse_argv(
        ["greet", "-n", "m", "-g", "yo", "--wait", "2.5", "test", "--local"])
    assert [(context.name, context.as_kwargs) for context in parsed] == [
        ("greet", {"name": "m", "greeting": "yo", "wait": 2.5, "json": False}),
        ("test", {"name": None, "local": True, "force": False, "backend": None, "json": False})]
    assert made["greet"].requests(parsed[0].as_kwargs) == [(GREET, parsed[0].as_kwargs)]
