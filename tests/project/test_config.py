"""Model configs: validation errors name file, field, value and fix; legacy configs migrate."""

import json

import yaml

INIT = ["init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py",
        "--model-files", "labels.json,rules.py"]


def edit_config(project, **changes):
    path = project / ".dynalab" / "m" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config.update(changes)
    path.write_text(yaml.safe_dump(config))


def test_value_of_wrong_type_names_field_value_and_fix(make_project, cli):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    edit_config(project, requirements="yes please")
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert result.returncode == 2
    line = result.stderr.splitlines()[0]
    assert ".dynalab/m/config.yaml" in line and "`requirements`" in line and "'yes please'" in line
    assert "boolean" in line
    assert "hint: use true or false" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_field_suggests_known_ones(make_project, cli):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    edit_config(project, model_file=["labels.json"])
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert result.returncode == 2
    assert "`model_file`" in result.stderr and "unknown field" in result.stderr
    assert "model_files" in result.stderr


def test_broken_yaml_names_the_line(make_project, cli):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    (project / ".dynalab" / "m" / "config.yaml").write_text("task: nli\ncheckpoint: [model.pt\n")
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert result.returncode == 2
    assert "config.yaml:" in result.stderr and "not valid YAML" in result.stderr


def test_excluding_a_needed_file_is_an_error(make_project, cli):
    project = make_project("contract-nli")
    result = cli(*INIT, "--exclude", "rules.py", cwd=project)
    assert result.returncode == 2
    assert "exclude[0]" in result.stderr and "rules.py" in result.stderr


def test_legacy_setup_config_json_is_migrated(make_project, cli):
    project = make_project("contract-nli")
    legacy = project / ".dynalab" / "m" / "setup_config.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({
        "task": "nli", "checkpoint": "model.pt", "handler": "handler.py", "requirements": False,
        "setup": False, "model_files": ["labels.json", "rules.py"], "exclude": [],
    }))
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    migrated = yaml.safe_load((project / ".dynalab" / "m" / "config.yaml").read_text())
    assert migrated["model_files"] == ["labels.json", "rules.py"]
    assert legacy.exists(), "the original file is kept"


def test_name_may_be_omitted_when_one_model_exists(make_project, cli):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    result = cli("test", "--local", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr


def test_unknown_model_is_a_usage_error(make_project, cli):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    result = cli("test", "--local", "-n", "other", cwd=project)
    assert result.returncode == 2
    assert "'other' is not initialised" in result.stderr and "initialised: m" in result.stderr
