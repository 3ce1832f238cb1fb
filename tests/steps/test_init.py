"""`dynalab-cli init`: configs written only when valid, prompts only on a terminal."""

import json
import os

import yaml

INIT_EXAMPLE = ["init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py",
                "--model-files", "vocab.json,labels.py"]


def config_of(project, name="m"):
    return yaml.safe_load((project / ".dynalab" / name / "config.yaml").read_text())


def test_init_without_terminal_writes_config_and_task_definition(make_project, cli):
    project = make_project("example")
    result = cli(*INIT_EXAMPLE, cwd=project)
    assert result.returncode == 0, result.stderr
    config = config_of(project)
    assert config["task"] == "nli"
    assert config["model_files"] == ["vocab.json", "labels.py"]
    assert config["integrated_test"]["backend"] == "sandbox"
    definition = json.loads((project / ".dynalab" / "nli.json").read_text())
    assert definition["task"] == "nli" and "output" in definition["config"]


def test_init_without_terminal_lists_missing_flags(make_project, cli):
    project = make_project("example")
    result = cli("init", "-n", "m", cwd=project)
    assert result.returncode == 2
    assert "-t/--task" in result.stderr and "--model-checkpoint" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / ".dynalab" / "m").exists()


def test_init_creates_handler_from_template_with_task_filled_in(make_project, cli):
    project = make_project("example")
    (project / "handler.py").unlink()
    result = cli("init", "-n", "m", "-t", "sentiment", "--model-checkpoint", "model.pt", cwd=project)
    assert result.returncode == 0, result.stderr
    handler = (project / "handler.py").read_text()
    assert 'TaskIO("sentiment")' in handler
    assert "TODO 1" in handler
    assert "Created a handler from the template" in result.stdout


def test_reinit_refuses_without_yes_and_keeps_config(make_project, cli):
    project = make_project("example")
    assert cli(*INIT_EXAMPLE, cwd=project).returncode == 0
    before = (project / ".dynalab" / "m" / "config.yaml").read_text()
    result = cli("init", "-n", "m", "-t", "qa", "--model-checkpoint", "model.pt", cwd=project)
    assert result.returncode == 2
    assert "already initialised" in result.stderr and "--yes" in result.stderr
    assert (project / ".dynalab" / "m" / "config.yaml").read_text() == before
    assert cli("init", "-n", "m", "-t", "qa", "--model-checkpoint", "model.pt", "--yes", cwd=project).returncode == 0
    assert config_of(project)["task"] == "qa"


def test_amend_updates_only_given_fields(make_project, cli):
    project = make_project("example")
    assert cli(*INIT_EXAMPLE, cwd=project).returncode == 0
    result = cli("init", "-n", "m", "--amend", "--exclude", "train.py", cwd=project)
    assert result.returncode == 0, result.stderr
    config = config_of(project)
    assert config["exclude"] == ["train.py"]
    assert config["model_files"] == ["vocab.json", "labels.py"]


def test_failed_amend_keeps_previous_config(make_project, cli):
    project = make_project("example")
    assert cli(*INIT_EXAMPLE, cwd=project).returncode == 0
    before = (project / ".dynalab" / "m" / "config.yaml").read_text()
    result = cli("init", "-n", "m", "--amend", "--model-files", "missing.json", cwd=project)
    assert result.returncode == 2
    assert "model_files[0]" in result.stderr and "missing.json" in result.stderr
    assert (project / ".dynalab" / "m" / "config.yaml").read_text() == before


def test_model_file_linking_outside_root_is_refused(make_project, cli, tmp_path):
    project = make_project("example")
    outside = tmp_path / "elsewhere.json"
    outside.write_text("{}")
    os.symlink(outside, project / "linked.json")
    result = cli("init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", "--model-files", "linked.json",
                 cwd=project)
    assert result.returncode == 2
    assert "model_files[0]" in result.stderr and "linked.json" in result.stderr and "outside" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_model_name_is_refused(make_project, cli):
    project = make_project("example")
    result = cli("init", "-n", "My_Model", "-t", "nli", "--model-checkpoint", "model.pt", cwd=project)
    assert result.returncode == 2
    assert "invalid model name 'My_Model'" in result.stderr


def test_rename_moves_the_model(make_project, cli):
    project = make_project("example")
    assert cli(*INIT_EXAMPLE, cwd=project).returncode == 0
    assert cli("init", "-n", "m", "--rename", "m2", cwd=project).returncode == 0
    assert config_of(project, "m2")["task"] == "nli"
    assert not (project / ".dynalab" / "m").exists()


def test_unknown_task_names_the_known_ones(make_project, cli):
    project = make_project("example")
    result = cli("init", "-n", "m", "-t", "nope", "--model-checkpoint", "model.pt", cwd=project)
    assert result.returncode == 2
    assert "'nope'" in result.stderr and "nli" in result.stderr
