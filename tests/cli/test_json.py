"""`--json` on every step: one JSON object per step asked for on stdout, human lines on stderr, exit codes as before."""

import json
import re
from pathlib import Path

import pytest
import yaml

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")

FIELDS = {"step", "model", "status", "started_at", "seconds", "fingerprint", "passed_at", "needed", "error"}


def documented_fields():
    """The fields the README's JSON output table names (its first column)."""
    table = README.split("### JSON output", 1)[1].split("\n\n###", 1)[0]
    return {name for row in re.findall(r"^\| (`.+?`) \|", table, re.M) for name in re.findall(r"`(\w+)`", row)}


def objects(result):
    """Every line of stdout, parsed: stdout must hold JSON objects alone, whose fields the README documents."""
    parsed = [json.loads(line) for line in result.stdout.splitlines()]
    for record in parsed:
        assert set(record) <= documented_fields(), set(record) - documented_fields()
    return parsed


@pytest.fixture
def project(contract_nli):
    return contract_nli


def test_a_ci_script_gets_two_objects_the_first_skipped_when_cached(project, cli, server):
    assert cli("test", "--local", "-n", "m", cwd=project).returncode == 0
    env = {"DYNALAB_API_URL": server.url, "DYNALAB_API_TOKEN": server.add_user("ci@example.org")}
    result = cli("test", "--local", "-n", "m", "--json", "upload", "-n", "m", "--json", cwd=project, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    tested, uploaded = objects(result)
    state = yaml.safe_load((project / ".dynalab" / "m" / "state.yaml").read_text())
    assert FIELDS <= set(tested) and FIELDS <= set(uploaded)
    assert (tested["step"], tested["model"], tested["status"]) == ("local_test", "m", "skipped")
    assert tested["fingerprint"] == state["steps"]["local_test"]["fingerprint"]
    assert tested["passed_at"] == state["steps"]["local_test"]["finished_at"] and tested["error"] is None
    assert (uploaded["step"], uploaded["status"]) == ("upload", "passed")
    assert uploaded["needed"] == {"local_test": "skipped", "package": "passed", "integrated_test": "passed"}
    receipt = state["uploads"][-1]
    assert uploaded["upload"]["model_id"] == receipt["model_id"] and uploaded["upload"]["url"] == receipt["url"]
    assert uploaded["archive"]["sha256"] == receipt["sha256"] and uploaded["archive"]["size"] == receipt["size"]
    assert "Upload done: model id" in result.stderr and "Local test skipped" in result.stderr, "human lines"


def test_a_failed_step_is_an_object_with_its_error_and_the_exit_code_is_unchanged(make_project, cli):
    project = make_project("bad-label")
    assert cli("init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", cwd=project).returncode == 0
    result = cli("test", "--local", "-n", "m", "--json", "package", "-n", "m", "--json", cwd=project)
    assert result.returncode == 3
    [failed] = objects(result)  # the first failure stops the command: no object for package
    assert failed["status"] == "failed" and failed["step"] == "local_test"
    error = failed["error"]
    assert error["class"] == "LocalTestFailed" and error["exit_code"] == 3
    assert error["message"].startswith("Local test failed: 3 of 3 responses are invalid") and error["hint"]
    assert f"error: {error['message']}" in result.stderr


def test_a_step_reports_the_steps_it_needed_and_its_archive(project, cli):
    result = cli("test", "-n", "m", "--json", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    [tested] = objects(result)
    assert tested["step"] == "integrated_test" and tested["status"] == "passed"
    assert tested["needed"] == {"local_test": "passed", "package": "passed"}
    assert tested["backend"] == "sandbox" and tested["isolated"] is True
    assert len(tested["archive"]["sha256"]) == 64 and tested["archive"]["size"] > 0
    again = objects(cli("test", "-n", "m", "--json", cwd=project))[0]
    assert again["status"] == "skipped" and again["needed"] == {"local_test": "skipped", "package": "skipped"}
    assert again["archive"] == tested["archive"] and again["fingerprint"] == tested["fingerprint"]


def test_a_usage_error_of_a_step_asking_for_json_is_an_object_too(project, cli):
    result = cli("test", "-n", "m", "--backend", "dockr", "--json", cwd=project)
    assert result.returncode == 2
    [failed] = objects(result)
    assert failed["error"]["class"] == "UsageError" and "'dockr'" in failed["error"]["message"]


def test_human_lines_stay_on_stdout_without_json(project, cli):
    result = cli("package", "-n", "m", cwd=project)
    assert result.returncode == 0
    assert result.stdout.startswith("Package .dynalab/m/build/m.tar.gz: ")


def test_every_step_speaks_json_with_documented_fields(make_project, cli, server):
    project = make_project("contract-nli")
    token = server.add_user("json@example.org")
    env = {"DYNALAB_API_URL": server.url}
    runs = [
        ("init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", "--model-files", "labels.json,rules.py"),
        ("predict", "-n", "m", "--input", '{"context": "A cat.", "hypothesis": "An animal."}'),
        ("package", "-n", "m"),
        ("login", "--token", token),
        ("doctor", "-n", "m"),
        ("logout",),
    ]
    seen = {}
    for args in runs:
        result = cli(*args, "--json", cwd=project, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        [record] = objects(result)  # fields checked against the README's table
        seen[record["step"]] = record
    assert list(seen) == ["init", "predict", "package", "login", "doctor", "logout"]
    assert seen["init"]["config"] == ".dynalab/m/config.yaml" and seen["init"]["task"] == "nli"
    assert seen["login"]["api_url"] == server.url and seen["logout"]["forgotten"] is True
    assert seen["doctor"]["settings"]["api_url"]["value"] == server.url
    assert seen["package"]["archive"]["files"] > 0

