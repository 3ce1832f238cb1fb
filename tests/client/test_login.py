"""login / logout against a real server."""

import io
import json
import os
import pty
import socket
import stat
import sys

import pytest

from client_support import read_until

from dynalab.client import auth
from dynalab.client.login import login, logout
from dynalab.errors import AuthError, ServerError


def test_login_with_a_bogus_token_fails_and_saves_nothing(server):
    with pytest.raises(AuthError, match="does not accept this API token") as caught:
        login(server.url, token="bogus")
    assert "/generate_api_token" in caught.value.hint
    assert not auth.secrets_path().exists()


def test_login_with_a_good_token_saves_it_privately_and_never_prints_it(server, user_token, capsys):
    path = login(server.url, token=user_token)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert json.loads(path.read_text()) == {"api_token": user_token, "api_url": server.url}
    captured = capsys.readouterr()
    assert user_token not in captured.out + captured.err


def test_login_takes_the_token_from_the_environment(server, user_token, monkeypatch):
    monkeypatch.setenv("DYNALAB_API_TOKEN", user_token)
    login(server.url)
    assert auth.load_saved_token() == user_token


def test_login_takes_the_token_from_stdin(server, user_token, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(user_token + "\n"))
    login(server.url, token_stdin=True)
    assert auth.load_saved_token() == user_token


def test_login_without_a_token_or_a_terminal_lists_the_options(server):
    with pytest.raises(AuthError) as caught:
        login(server.url)
    assert "--token-stdin" in caught.value.hint and "DYNALAB_API_TOKEN" in caught.value.hint


def test_login_against_no_server_names_the_address(quick_session):
    with pytest.raises(ServerError, match="http://127.0.0.1:9"):
        login("http://127.0.0.1:9", token="anything", session=quick_session)
    assert not auth.secrets_path().exists()


def test_logout_forgets_the_token(server, user_token):
    login(server.url, token=user_token)
    assert logout() is True
    assert not auth.secrets_path().exists()
    assert logout() is False


def test_login_on_a_terminal_shows_the_token_page_and_reads_the_token_unechoed(server, user_token, tmp_path):
    """Run login in a child whose terminal is a real pseudo-terminal, and type the token."""
    code = (
        "from dynalab.client.login import login; "
        f"print('saved to', login({server.url!r}, open_browser=False))"
    )
    env = {**os.environ, "DYNALAB_HOME": str(tmp_path / "home")}
    pid, terminal = pty.fork()
    if pid == 0:  # the child: stdin, stdout and /dev/tty are the pseudo-terminal
        os.execve(sys.executable, [sys.executable, "-c", code], env)
    output = read_until(terminal, b"Paste your API token")
    os.write(terminal, user_token.encode() + b"\n")
    output += read_until(terminal, b"saved to")
    _, status = os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert f"{server.url}/generate_api_token" in text
    assert user_token not in text  # not echoed
    saved = tmp_path / "home" / ".dynalab" / "secrets.json"
    assert json.loads(saved.read_text()) == {"api_token": user_token, "api_url": server.url}


def test_login_on_a_terminal_to_a_server_that_is_down_says_so_before_asking_for_the_token(tmp_path):
    with socket.socket() as probe:  # a port nothing listens on once it is closed
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    env = {**os.environ, "DYNALAB_HOME": str(tmp_path / "home")}
    env.pop("CI", None)
    argv = [sys.executable, "-m", "dynalab.cli", "login", "--api-url", url, "--no-browser"]
    pid, terminal = pty.fork()
    if pid == 0:
        os.execve(sys.executable, argv, env)
    output = read_until(terminal, b"hint:")
    _, status = os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 8, text
    assert f"error: cannot reach the evaluation server at {url} (connection refused)" in text
    assert "Paste your API token" not in text and "generate_api_token" not in text
    assert not (tmp_path / "home" / ".dynalab" / "secrets.json").exists()
