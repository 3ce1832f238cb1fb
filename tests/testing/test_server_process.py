"""``dynalab.testing.server_process`` runs a real server for tests, benchmarks and the demo."""

import json
import subprocess
import sys


def test_importing_it_pulls_in_only_the_standard_library():
    # A client's environment (no server extra) imports it to start a server.
    code = ("import json, sys\n"
            "before = set(sys.modules)\n"
            "import dynalab.testing.server_process\n"
            "new = {name.split('.')[0] for name in set(sys.modules) - before}\n"
            "print(json.dumps(sorted(new - set(sys.stdlib_module_names) - {'dynalab'})))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_callers_server_settings_do_not_reach_the_server(tmp_path, monkeypatch):
    from dynalab.testing.server_process import ServerProcess

    monkeypatch.setenv("DYNALAB_SERVER_MAX_UPLOAD_BYTES", "0")  # would stop the server from starting
    server = ServerProcess(tmp_path / "data", env={"DYNALAB_SERVER_TOKEN_TTL": "5"})
    environment = server.environment()
    assert "DYNALAB_SERVER_MAX_UPLOAD_BYTES" not in environment
    assert environment["DYNALAB_SERVER_TOKEN_TTL"] == "5"
    with server:
        assert server.cli("list-users").returncode == 0
