"""Batched mode: one body of JSON lines, one response line each, through both tests."""

import yaml


def test_batched_handler_passes_local_and_integrated_tests(make_project, cli):
    project = make_project("batched-nli")
    assert cli("init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", cwd=project).returncode == 0
    config_path = project / ".dynalab" / "m" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["batched"] = True
    config_path.write_text(yaml.safe_dump(config))
    result = cli("test", "-n", "m", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Local test passed" in result.stdout and "Integrated test passed" in result.stdout
