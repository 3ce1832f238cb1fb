"""A sandbox pass on a system that cannot cut the network: recorded, said, and refused by upload.

The system is made unable for real: `unshare` and `bwrap` on PATH are
executables that exit 1, as on a system where user namespaces are disabled.
"""

import os

import pytest
import yaml

from dynalab.testing.server_process import ServerProcess

INIT = ["init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py",
        "--model-files", "labels.json,rules.py"]


@pytest.fixture
def no_namespaces(tmp_path):
    """A PATH whose `unshare` and `bwrap` fail, first in the search order."""
    stubs = tmp_path / "failing-bin"
    stubs.mkdir()
    for name in ("unshare", "bwrap"):
        stub = stubs / name
        stub.write_text("#!/bin/sh\necho \"$0: operation not permitted\" >&2\nexit 1\n")
        stub.chmod(0o755)
    return {"PATH": os.pathsep.join([str(stubs), os.environ["PATH"]])}


def integrated_record(project):
    return yaml.safe_load((project / ".dynalab" / "m" / "state.yaml").read_text())["steps"]["integrated_test"]


def test_a_pass_without_network_isolation_is_recorded_and_upload_refuses_it(make_project, cli, no_namespaces, server):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    env = {"DYNALAB_API_URL": server.url, "DYNALAB_API_TOKEN": server.add_user("dana@example.org")}

    tested = cli("test", "-n", "m", cwd=project, env=no_namespaces)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "the sandbox is NOT confined" in tested.stdout
    assert "Integrated test passed on the sandbox backend WITHOUT network isolation" in tested.stdout
    assert integrated_record(project)["isolated"] is False

    again = cli("test", "-n", "m", cwd=project, env=no_namespaces)
    assert again.returncode == 0
    assert "Integrated test skipped" in again.stdout and "WITHOUT network isolation" in again.stdout

    refused = cli("upload", "-n", "m", cwd=project, env={**env, **no_namespaces})
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "without network isolation" in refused.stderr
    assert "run the integrated test with --backend docker, or pass --allow-unisolated" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (project / ".dynalab_submissions").exists()

    allowed = cli("upload", "-n", "m", "--allow-unisolated", "--no-progress", cwd=project, env={**env, **no_namespaces})
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "Integrated test skipped" in allowed.stdout  # the recorded pass, not a new run
    assert "Upload done: model id" in allowed.stdout


def test_a_pass_with_the_network_cut_is_recorded_as_isolated(make_project, cli, no_namespaces):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    assert cli("test", "-n", "m", cwd=project, env=no_namespaces).returncode == 0

    rerun = cli("test", "-n", "m", "--force", cwd=project)  # this machine's own unshare works
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "Integrated test passed on the sandbox backend:" in rerun.stdout
    assert "WITHOUT" not in rerun.stdout
    assert integrated_record(project)["isolated"] is True
