"""Where the API token comes from, and how it is kept."""

import io
import json
import os
import stat

import pytest

from dynalab.project import settings
from dynalab.client import auth
from dynalab.client.api import DEFAULT_API_URL, resolve_api_url, resolve_server
from dynalab.errors import AuthError, UsageError


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_without_a_token_and_without_a_terminal_the_error_lists_every_way_to_give_one():
    asked = []
    with pytest.raises(AuthError) as caught:
        auth.resolve_token(prompt=lambda: asked.append(1) or "never")
    text = f"{caught.value} {caught.value.hint}"
    for option in ("--token", "--token-stdin", "DYNALAB_API_TOKEN", "dynalab-cli login"):
        assert option in text
    assert asked == []  # no prompt without a terminal


def test_sources_are_tried_in_a_fixed_order(monkeypatch):
    auth.save_token("from-file")
    assert auth.resolve_token() == ("from-file", str(auth.secrets_path()))
    monkeypatch.setenv("DYNALAB_API_TOKEN", "from-env")
    assert auth.resolve_token() == ("from-env", "DYNALAB_API_TOKEN")
    assert auth.resolve_token(token_stdin=True, stdin=io.StringIO("from-stdin\n")).token == "from-stdin"
    assert auth.resolve_token(token="from-flag", token_stdin=True, stdin=io.StringIO("x")).token == "from-flag"


def test_an_empty_token_is_an_error_not_a_login(monkeypatch):
    with pytest.raises(AuthError, match="empty"):
        auth.resolve_token(token_stdin=True, stdin=io.StringIO("\n"))


def test_the_prompt_is_used_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr("dynalab.prompts.interactive", lambda: True)
    assert auth.resolve_token(prompt=lambda: "  typed \n") == ("typed", "the prompt")


def test_the_token_is_never_shown_in_a_repr():
    credential = auth.resolve_token(token="s3cret-value")
    assert "s3cret-value" not in repr(credential)


def test_saved_token_file_is_private_even_with_a_permissive_umask(clean_environment):
    old = os.umask(0)
    try:
        path = auth.save_token("tok")
    finally:
        os.umask(old)
    assert path == clean_environment / ".dynalab" / "secrets.json"
    assert mode(path) == 0o600
    assert json.loads(path.read_text()) == {"api_token": "tok"}


def test_saving_replaces_a_readable_file_with_a_private_one():
    path = auth.secrets_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"api_token": "old", "other": 1}))
    os.chmod(path, 0o644)
    auth.save_token("new")
    assert mode(path) == 0o600
    assert json.loads(path.read_text()) == {"api_token": "new", "other": 1}
    assert [p.name for p in path.parent.iterdir()] == ["secrets.json"]  # no temporary file left


def test_logout_removes_the_token_and_keeps_other_settings():
    path = auth.save_token("tok")
    assert auth.delete_token() is True
    assert not path.exists()
    assert auth.delete_token() is False

    path.write_text(json.dumps({"api_token": "tok", "other": 1}))
    auth.delete_token()
    assert json.loads(path.read_text()) == {"other": 1}
    assert auth.load_saved_token() is None


def test_a_damaged_secrets_file_says_what_to_do():
    path = auth.secrets_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(AuthError, match="cannot read") as caught:
        auth.resolve_token()
    assert "login" in caught.value.hint


def test_server_address_flag_then_environment_then_config_then_default(monkeypatch):
    assert resolve_api_url() == DEFAULT_API_URL == "http://127.0.0.1:8000"
    assert resolve_api_url(config_value="https://config.example/") == "https://config.example"
    monkeypatch.setenv("DYNALAB_API_URL", "https://env.example:9000")
    assert resolve_api_url(config_value="https://config.example") == "https://env.example:9000"
    assert resolve_api_url("https://flag.example", "https://config.example") == "https://flag.example"
    with pytest.raises(UsageError, match="not an http"):
        resolve_api_url("ftp://nope")


def test_plain_http_is_only_for_this_machine_unless_allowed(monkeypatch):
    assert resolve_api_url("http://localhost:8000") == "http://localhost:8000"
    assert resolve_api_url("http://[::1]:8000") == "http://[::1]:8000"
    with pytest.raises(UsageError, match="plain http to another machine"):
        resolve_api_url("http://lab-server.example:8000")
    monkeypatch.setenv("DYNALAB_ALLOW_HTTP", "1")
    assert resolve_api_url("http://lab-server.example:8000") == "http://lab-server.example:8000"


# A token that `login` did not bind to a server (DYNALAB_API_TOKEN, or the original tool's
# secrets.json, which names none) goes only to a server the user named; never to one that
# only a project's config names, since a pull request can edit the config.

CONFIG = ".dynalab/m/config.yaml"
ELSEWHERE = "https://elsewhere.example"


def unbound_from_the_environment(monkeypatch):
    monkeypatch.setenv("DYNALAB_API_TOKEN", "ci-token")
    return "DYNALAB_API_TOKEN"


def unbound_from_the_original_tools_file(monkeypatch):
    auth.save_token("old-token")  # no api_url: as the original tool wrote it
    return "saved with no server"


@pytest.mark.parametrize("token_source", [unbound_from_the_environment, unbound_from_the_original_tools_file])
def test_an_unbound_token_is_not_sent_to_a_server_only_the_config_names(token_source, monkeypatch):
    words = token_source(monkeypatch)
    server = resolve_server(config_value=ELSEWHERE, config_source=CONFIG)
    assert server == (ELSEWHERE, CONFIG, False)
    with pytest.raises(AuthError) as caught:
        auth.resolve_token_for(server)
    message = str(caught.value)
    assert words in message and f"is not sent to {ELSEWHERE}, which only {CONFIG} names" in message
    assert f"--api-url {ELSEWHERE}" in caught.value.hint and f"login --api-url {ELSEWHERE}" in caught.value.hint


def named_by_the_flag(monkeypatch):
    return {"flag": ELSEWHERE}


def named_by_the_variable(monkeypatch):
    monkeypatch.setenv("DYNALAB_API_URL", ELSEWHERE)
    return {}


def named_by_the_settings(monkeypatch):
    settings.set_value("api_url", ELSEWHERE)
    return {}


def named_by_the_config_and_the_settings(monkeypatch):
    settings.set_value("api_url", ELSEWHERE)
    return {"config_value": ELSEWHERE, "config_source": CONFIG}


def the_default_named_by_the_config(monkeypatch):
    return {"config_value": DEFAULT_API_URL, "config_source": CONFIG}


@pytest.mark.parametrize("token_source", [unbound_from_the_environment, unbound_from_the_original_tools_file])
@pytest.mark.parametrize("naming", [named_by_the_flag, named_by_the_variable, named_by_the_settings,
                                    named_by_the_config_and_the_settings, the_default_named_by_the_config])
def test_an_unbound_token_goes_to_a_server_the_user_named(token_source, naming, monkeypatch):
    token_source(monkeypatch)
    server = resolve_server(**naming(monkeypatch))
    assert server.user_named
    assert auth.resolve_token_for(server).token in ("ci-token", "old-token")


def test_a_token_saved_by_login_goes_only_to_the_server_that_accepted_it():
    auth.save_token("bound-token", api_url="https://accepted.example")
    own = resolve_server(config_value="https://accepted.example", config_source=CONFIG)
    assert auth.resolve_token_for(own).token == "bound-token"
    for other in (resolve_server(flag=ELSEWHERE), resolve_server(config_value=ELSEWHERE, config_source=CONFIG)):
        with pytest.raises(AuthError, match="your saved login is for https://accepted.example, not https://elsewhere"):
            auth.resolve_token_for(other)


def test_server_address_order_with_the_settings_and_the_login(monkeypatch):
    auth.save_token("tok", api_url="https://login.example")
    assert resolve_server() == ("https://login.example", "login", True)
    settings.set_value("api_url", "https://settings.example/")
    assert resolve_server() == ("https://settings.example", str(settings.settings_path()), True)
    assert resolve_server(config_value="https://config.example").url == "https://config.example"
    monkeypatch.setenv("DYNALAB_API_URL", "https://env.example")
    assert resolve_server(config_value="https://config.example").source == "DYNALAB_API_URL"
    assert resolve_server("https://flag.example", "https://config.example").source == "--api-url"
