"""The administrator's commands: accounts, tokens, quotas, and clear one-line errors."""

import os
import subprocess
import sys

from server_support import Api

from dynalab.testing.server_process import SETTINGS_PREFIX, ServerProcess


def dynalab_server(*args, input=None, env=None):
    """Run ``dynalab-server ARGS`` with none of the caller's ``DYNALAB_SERVER_*`` variables, plus ``env``."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith(SETTINGS_PREFIX)}
    return subprocess.run([sys.executable, "-m", "dynalab.server.cli", *args],
                          input=input, capture_output=True, text=True, env={**environment, **(env or {})})


def assert_one_line_error(result, *fragments):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("dynalab-server: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_add_user_prints_the_api_token_as_its_last_line(running_server):
    result = running_server.cli("add-user", "Alice@Example.org")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    assert len(token) >= 40 and " " not in token
    assert Api(running_server.url).refresh(token).status_code == 200
    listing = running_server.cli("list-users").stdout
    assert "alice@example.org" in listing and "no-password" in listing and token not in listing
    # Without a password the web page cannot help them: the output says what can.
    assert "cannot sign in on the web page yet" in result.stdout
    assert "give them the API token below" in result.stdout
    assert "dynalab-server set-password alice@example.org --password-stdin" in result.stdout


def test_the_database_keeps_only_hashes_of_tokens_and_passwords(running_server):
    token = running_server.add_user("bob@example.org", password="correct horse")
    database = (running_server.data_dir / "dynalab.sqlite3").read_bytes()
    wal = running_server.data_dir / "dynalab.sqlite3-wal"
    stored = database + (wal.read_bytes() if wal.exists() else b"")
    assert token.encode() not in stored
    assert b"correct horse" not in stored


def test_a_second_account_with_the_same_email_is_refused(running_server):
    running_server.add_user("carol@example.org")
    result = running_server.cli("add-user", "carol@example.org")
    assert_one_line_error(result, "carol@example.org already exists")
    assert "rotate-token" in result.stderr


def test_admin_commands_on_a_missing_data_dir_say_so(tmp_path):
    result = dynalab_server("add-user", "--data-dir", str(tmp_path / "nowhere"), "dan@example.org")
    assert_one_line_error(result, "does not exist")
    assert not (tmp_path / "nowhere").exists()


def test_a_bad_email_and_an_unknown_user_are_errors(running_server):
    assert_one_line_error(running_server.cli("add-user", "not-an-email"), "not an email address")
    assert_one_line_error(running_server.cli("rotate-token", "eve@example.org"), "no user with email")


def test_rotating_a_token_retires_the_old_one_and_its_bearer_tokens(running_server):
    api = Api(running_server.url)
    old = running_server.add_user("frank@example.org")
    old_bearer = api.bearer(old)
    result = running_server.cli("rotate-token", "frank@example.org")
    new = result.stdout.strip().splitlines()[-1]
    assert api.refresh(old).status_code == 401
    assert api.models(old_bearer).status_code == 401
    assert api.refresh(new).status_code == 200


def test_set_quota_changes_what_the_task_list_says(running_server):
    result = running_server.cli("set-quota", "qa", "--threshold", "5", "--hours", "1")
    assert result.returncode == 0, result.stderr
    tasks = {t["task_code"]: t for t in Api(running_server.url).get("/tasks/submitable").json()}
    assert (tasks["qa"]["dynalab_threshold"], tasks["qa"]["dynalab_hr_diff"]) == (5, 1)
    assert (tasks["nli"]["dynalab_threshold"], tasks["nli"]["dynalab_hr_diff"]) == (3, 24)
    assert "qa\t5 uploads / 1 h" in running_server.cli("list-tasks").stdout
    running_server.cli("set-quota", "qa", "--reset")
    assert "qa\t3 uploads / 24 h" in running_server.cli("list-tasks").stdout
    assert_one_line_error(running_server.cli("set-quota", "nope", "--threshold", "1", "--hours", "1"),
                          "unknown task 'nope'")


def test_set_quota_takes_one_option_and_keeps_the_other(running_server):
    result = running_server.cli("set-quota", "qa", "--threshold", "7")
    assert result.returncode == 0, result.stderr
    assert "at most 7 uploads per 24 hours" in result.stdout  # the hours it had
    running_server.cli("set-quota", "qa", "--hours", "2")
    assert "qa\t7 uploads / 2 h" in running_server.cli("list-tasks").stdout
    assert_one_line_error(running_server.cli("set-quota", "qa"), "give --threshold N, --hours H or both")


def test_two_servers_cannot_share_a_data_dir(running_server):
    result = dynalab_server("run", "--data-dir", str(running_server.data_dir), "--port", "0")
    assert_one_line_error(result, "another server is already running")


def test_a_busy_port_is_a_clear_error(running_server, tmp_path):
    result = dynalab_server("run", "--data-dir", str(tmp_path / "other"), "--port", str(running_server.port))
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{running_server.port}")


def test_the_server_prints_its_address_once_serving_and_can_use_a_database_url(tmp_path):
    database = tmp_path / "elsewhere.sqlite3"
    server = ServerProcess(tmp_path / "data", extra_args=["--database-url", f"sqlite:///{database}"])
    with server:
        assert f"Dynalab server ready at {server.url}" in server.log()
        token = server.cli("add-user", "gina@example.org", "--database-url", f"sqlite:///{database}")
        assert Api(server.url).refresh(token.stdout.strip().splitlines()[-1]).status_code == 200
    assert database.exists()
    assert not (tmp_path / "data" / "dynalab.sqlite3").exists()


def test_run_options_can_come_from_dynalab_server_variables_and_an_option_wins(tmp_path):
    by_variable = ServerProcess(tmp_path / "by-variable", env={"DYNALAB_SERVER_MAX_UPLOAD_BYTES": "20000",
                                                               "DYNALAB_SERVER_LOG_LEVEL": "warning"})
    with by_variable:
        assert Api(by_variable.url).get("/health").json()["max_upload_bytes"] == 20000
        assert "INFO:" not in by_variable.log()
    both = ServerProcess(tmp_path / "both", extra_args=["--max-upload-bytes", "30000"],
                         env={"DYNALAB_SERVER_MAX_UPLOAD_BYTES": "20000"})
    with both:
        assert Api(both.url).get("/health").json()["max_upload_bytes"] == 30000


def test_admin_commands_find_the_data_dir_in_the_environment(running_server):
    env = {"DYNALAB_SERVER_DATA_DIR": str(running_server.data_dir)}
    result = dynalab_server("add-user", "hana@example.org", env=env)
    assert result.returncode == 0, result.stderr
    assert "hana@example.org" in dynalab_server("list-users", env=env).stdout


def test_a_missing_data_dir_and_bad_settings_name_the_option_or_the_variable(tmp_path):
    for missing in (dynalab_server("list-users"), dynalab_server("list-users", env={"DYNALAB_SERVER_DATA_DIR": ""})):
        assert_one_line_error(missing, "no data dir given")
        assert "give --data-dir or set DYNALAB_SERVER_DATA_DIR" in missing.stderr
    data = str(tmp_path / "data")
    assert_one_line_error(dynalab_server("run", "--data-dir", data, "--max-upload-bytes", "0"),
                          "--max-upload-bytes must be a positive number, not 0")
    assert_one_line_error(dynalab_server("run", "--data-dir", data, env={"DYNALAB_SERVER_BODY_TIMEOUT": "-1"}),
                          "DYNALAB_SERVER_BODY_TIMEOUT must be a positive number, not -1")
    assert_one_line_error(dynalab_server("run", "--data-dir", data, env={"DYNALAB_SERVER_PORT": "eighty"}),
                          "DYNALAB_SERVER_PORT is 'eighty'", "valid integer")
    assert_one_line_error(dynalab_server("run", "--data-dir", data, env={"DYNALAB_SERVER_WORKERS": "-1"}),
                          "DYNALAB_SERVER_WORKERS must be 0 or more, not -1")
    assert_one_line_error(dynalab_server("run", "--data-dir", data, env={"DYNALAB_SERVER_BACKEND": "podman"}),
                          "DYNALAB_SERVER_BACKEND is 'podman'", "'sandbox' or 'docker'")
    assert not (tmp_path / "data").exists()
