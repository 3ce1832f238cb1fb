"""`login` and `upload` against a real evaluation server process on 127.0.0.1."""

import stat
from http.server import BaseHTTPRequestHandler

import pytest
import yaml

from dynalab.testing.server_process import ServerProcess
from loopback import LoopbackServer


@pytest.fixture
def tested_project(contract_nli):
    return contract_nli


def test_login_checks_the_token_and_saves_it_private(server, cli, tmp_path):
    env = {"DYNALAB_API_URL": server.url}
    bogus = cli("login", "--token", "not-a-token", cwd=tmp_path, env=env)
    assert bogus.returncode == 5
    assert "does not accept this API token" in bogus.stderr
    secrets = tmp_path / "home" / ".dynalab" / "secrets.json"
    assert not secrets.exists()

    token = server.add_user("alice@example.org")
    good = cli("login", "--token-stdin", cwd=tmp_path, env=env, input=token + "\n")
    assert good.returncode == 0, good.stderr
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    assert token not in good.stdout + good.stderr

    assert cli("logout", cwd=tmp_path).returncode == 0
    assert not secrets.exists()


def test_upload_without_login_says_how_to_log_in(server, tested_project, cli):
    result = cli("upload", "-n", "m", cwd=tested_project, env={"DYNALAB_API_URL": server.url})
    assert result.returncode == 5
    assert "not logged in" in result.stderr and "login" in result.stderr


def test_chained_test_and_upload_then_quota(server, tested_project, cli):
    env = {"DYNALAB_API_URL": server.url, "DYNALAB_API_TOKEN": server.add_user("bob@example.org")}
    first = cli("test", "--local", "-n", "m", "upload", "-n", "m", "--no-progress", cwd=tested_project, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Local test passed" in first.stdout
    assert "Integrated test passed" in first.stdout
    assert "Upload done: model id" in first.stdout
    kept = list((tested_project / ".dynalab_submissions").glob("*-m.tar.gz"))
    assert len(kept) == 1

    again = cli("upload", "-n", "m", cwd=tested_project, env=env)
    assert again.returncode == 0
    assert "Upload skipped" in again.stdout and "--force" in again.stdout

    for _ in range(2):
        forced = cli("upload", "-n", "m", "--force", cwd=tested_project, env=env)
        assert forced.returncode == 0, forced.stderr
    fourth = cli("upload", "-n", "m", "--force", cwd=tested_project, env=env)
    assert fourth.returncode == 6
    assert "at most 3 uploads per 24 hours" in fourth.stderr
    assert "(in 2" in fourth.stderr and "second" not in fourth.stderr  # "in 24 h", not "in 86399 seconds"

    server.restart()
    after_restart = cli("upload", "-n", "m", "--force", cwd=tested_project, env=env)
    assert after_restart.returncode == 6

    state = yaml.safe_load((tested_project / ".dynalab" / "m" / "state.yaml").read_text())
    assert len(state["uploads"]) == 3


def test_a_task_closed_to_uploads_is_an_upload_refusal_not_a_failing_server(server, tested_project, cli):
    assert server.cli("set-quota", "nli", "--threshold", "0", "--hours", "24").returncode == 0
    env = {"DYNALAB_API_URL": server.url, "DYNALAB_API_TOKEN": server.add_user("carol@example.org")}
    result = cli("upload", "-n", "m", "--no-progress", cwd=tested_project, env=env)
    assert result.returncode == 7, result.stdout + result.stderr
    assert "accepts no uploads" in result.stderr and "Traceback" not in result.stderr


def test_upload_refuses_a_package_that_fails_its_tests(server, make_project, cli):
    project = make_project("bad-label")
    assert cli("init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", cwd=project).returncode == 0
    env = {"DYNALAB_API_URL": server.url, "DYNALAB_API_TOKEN": server.add_user("carol@example.org")}
    result = cli("upload", "-n", "m", cwd=project, env=env)
    assert result.returncode == 3
    assert not (project / ".dynalab_submissions").exists()


def test_unreachable_server_is_named(tested_project, cli):
    env = {"DYNALAB_API_URL": "http://127.0.0.1:9", "DYNALAB_API_TOKEN": "whatever"}
    result = cli("upload", "-n", "m", cwd=tested_project, env=env)
    assert result.returncode == 8
    assert "127.0.0.1:9" in result.stderr


class Recorder(LoopbackServer):
    """A server on 127.0.0.1 that answers 404 to everything and records what it was sent:
    it stands for a server a pull request put into the project's config."""

    def __init__(self):
        recorder = self
        self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                recorder.requests.append(self.path)
                self.send_error(404)

            do_POST = do_GET

            def log_message(self, *args):
                pass

        super().__init__(Handler)


def ci_token(tmp_path):
    return {"DYNALAB_API_TOKEN": "ci-secret-token"}, "DYNALAB_API_TOKEN"


def original_tools_login(tmp_path):
    secrets = tmp_path / "home" / ".dynalab" / "secrets.json"
    secrets.parent.mkdir(parents=True)
    secrets.write_text('{"api_token": "ci-secret-token"}')  # the original tool saved no server
    return {}, "saved with no server"


@pytest.mark.parametrize("token_source", [ci_token, original_tools_login])
def test_a_config_edited_to_name_another_server_gets_an_error_not_the_token(token_source, tested_project, cli, tmp_path):
    env, words = token_source(tmp_path)
    with Recorder() as elsewhere:
        config = tested_project / ".dynalab" / "m" / "config.yaml"
        config.write_text(config.read_text().replace("api_url: null", f"api_url: {elsewhere.url}"))
        result = cli("upload", "-n", "m", cwd=tested_project, env=env)
        assert result.returncode == 5, result.stdout + result.stderr
        assert result.stderr.startswith("error: the token ") and words in result.stderr
        assert f"is not sent to {elsewhere.url}, which only .dynalab/m/config.yaml names" in result.stderr
        assert f"pass --api-url {elsewhere.url}" in result.stderr
        assert elsewhere.requests == [] and "Local test" not in result.stdout

        # Named by the user, the same server gets the token: the rule is about who chose it.
        named = cli("upload", "-n", "m", "--api-url", elsewhere.url, cwd=tested_project, env=env)
        assert named.returncode != 0, named.stdout + named.stderr  # it is no evaluation server
        assert any("api_token=ci-secret-token" in path for path in elsewhere.requests)
