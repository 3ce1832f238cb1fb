"""Tasks defined only by the evaluation server: fetched at init, cached, tested against."""

import json
import shutil

from dynalab.testing.server_process import ServerProcess


def test_init_uses_a_task_only_the_server_defines(make_project, cli, tmp_path):
    project = make_project("server-task")
    data = tmp_path / "server-data"
    (data / "tasks").mkdir(parents=True)
    shutil.move(project / "toxicity.yaml", data / "tasks" / "toxicity.yaml")
    with ServerProcess(data) as server:
        env = {"DYNALAB_API_URL": server.url}
        result = cli("init", "-n", "m", "-t", "toxicity", "--model-checkpoint", "model.pt", cwd=project, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    definition = json.loads((project / ".dynalab" / "toxicity.json").read_text())
    assert definition["config"]["output"] == [{"name": "toxic"}]
    # The server is gone: the cached list still serves the tests.
    tested = cli("test", "-n", "m", cwd=project)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "Local test passed" in tested.stdout and "Integrated test passed" in tested.stdout


def test_without_a_server_the_task_is_unknown(make_project, cli):
    project = make_project("server-task")
    result = cli("init", "-n", "m", "-t", "toxicity", "--model-checkpoint", "model.pt", cwd=project)
    assert result.returncode == 2
    assert "'toxicity'" in result.stderr and "unknown task" in result.stderr
