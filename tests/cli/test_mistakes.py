"""Plausible user mistakes: each gets one clear line, the right exit code, no traceback."""

import os
import subprocess
import sys

import pytest
import yaml

from dynalab.errors import UsageError
from dynalab.testing.server_process import ServerProcess

INIT = ["init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py",
        "--model-files", "labels.json,rules.py"]


def assert_one_clear_error(result, code, *words):
    assert result.returncode == code, result.stdout + result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_misspelt_flag_suggests_the_right_one(make_project, cli):
    project = make_project("contract-nli")
    assert_one_clear_error(cli("test", "--locl", cwd=project), 2, "'--locl'", "did you mean '--local'")


def test_flag_without_its_value_is_named(make_project, cli):
    project = make_project("contract-nli")
    assert_one_clear_error(cli("test", "--local", "-n", cwd=project), 2, "--name needs a value")


def test_running_from_a_subfolder_points_at_the_root(make_project, cli):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    assert_one_clear_error(cli("test", "--local", cwd=project / "src"), 2, f"cd {project}")


def test_two_model_files_with_one_bare_name_are_refused_at_init(make_project, cli):
    project = make_project("contract-nli")
    (project / "extra").mkdir()
    (project / "extra" / "labels.json").write_text("[]")
    result = cli(*INIT[:-1], "labels.json,extra/labels.json", cwd=project)
    assert_one_clear_error(result, 2, "model_files[1]", "'labels.json'")


def test_absolute_paths_inside_the_root_are_stored_relative(make_project, cli):
    project = make_project("contract-nli")
    result = cli("init", "-n", "m", "-t", "nli", "--model-checkpoint", str(project / "model.pt"),
                 "--model-files", f"{project / 'labels.json'},rules.py", cwd=project)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load((project / ".dynalab" / "m" / "config.yaml").read_text())
    assert config["checkpoint"] == "model.pt" and config["model_files"] == ["labels.json", "rules.py"]


def test_checkpoint_that_is_a_folder_is_refused(make_project, cli):
    project = make_project("contract-nli")
    (project / "weights").mkdir()
    result = cli("init", "-n", "m", "-t", "nli", "--model-checkpoint", "weights", cwd=project)
    assert_one_clear_error(result, 2, "`checkpoint`", "not a file")


def test_config_that_is_not_utf8_is_named(make_project, cli):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    (project / ".dynalab" / "m" / "config.yaml").write_bytes(b"task: nli\xff\n")
    assert_one_clear_error(cli("test", "--local", cwd=project), 2, "not UTF-8")


def test_every_config_problem_is_named_at_once(make_project, cli):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    path = project / ".dynalab" / "m" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config.update(requirements="no", batched="sometimes")
    path.write_text(yaml.safe_dump(config))
    assert_one_clear_error(cli("test", "--local", cwd=project), 2, "`requirements`", "`batched`")


def test_amend_keeps_the_users_comments(make_project, cli):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    path = project / ".dynalab" / "m" / "config.yaml"
    path.write_text(path.read_text().replace("exclude:", "# team note: keep the data out\nexclude:"))
    result = cli("init", "-n", "m", "--amend", "--exclude", "nothere", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "matches nothing" in result.stdout
    text = path.read_text()
    assert "# team note: keep the data out" in text
    assert yaml.safe_load(text)["exclude"] == ["nothere"]


def test_unknown_backend_is_refused_before_any_work(make_project, cli):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    result = cli("test", "--backend", "dockr", cwd=project)
    assert_one_clear_error(result, 2, "'dockr'")
    assert "Local test" not in result.stdout


def test_end_of_input_at_a_prompt_cancels(make_project):
    project = make_project("contract-nli")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    # A terminal that is closed at once: the first prompt reads end of input.
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "dynalab.cli", "init", "-n", "m"], cwd=project, env=env,
                               stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    os.close(slave)
    os.write(master, b"\x04")
    out, err = process.communicate(timeout=60)
    os.close(master)
    assert process.returncode == 130, out + err
    assert "cancelled" in err and "Traceback" not in err
    assert not (project / ".dynalab" / "m").exists()


def test_upload_to_another_server_is_not_skipped_and_login_remembers_its_server(make_project, cli, tmp_path):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    with ServerProcess(tmp_path / "one") as one, ServerProcess(tmp_path / "two") as two:
        assert cli("login", "--token", one.add_user("a@example.org"), "--api-url", one.url, cwd=project).returncode == 0
        first = cli("upload", "-n", "m", cwd=project)
        assert first.returncode == 0, first.stdout + first.stderr
        assert one.url in first.stdout
        assert cli("login", "--token-stdin", "--api-url", two.url, cwd=project,
                   input=two.add_user("a@example.org") + "\n").returncode == 0
        second = cli("upload", "-n", "m", cwd=project)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "Upload done" in second.stdout and two.url in second.stdout


def test_ctrl_c_during_a_test_exits_130_and_records_no_pass(make_project, cli):
    import signal
    import time

    project = make_project("slow-handler")
    assert cli("init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", cwd=project).returncode == 0
    # Ctrl-C on a terminal signals the whole foreground process group: the CLI and the handler's process.
    process = subprocess.Popen([sys.executable, "-m", "dynalab.cli", "test", "--local", "-n", "m"], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               env={**os.environ, "CI": "true"})
    line = process.stdout.readline()
    while "Handler loaded" not in line:
        assert line, "the CLI stopped before loading the handler"
        line = process.stdout.readline()
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    state = yaml.safe_load((project / ".dynalab" / "m" / "state.yaml").read_text())
    assert state["steps"]["local_test"]["status"] == "failed"


def test_a_project_config_cannot_redirect_the_saved_token(make_project, cli, tmp_path):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    with ServerProcess(tmp_path / "one") as one, ServerProcess(tmp_path / "two") as two:
        assert cli("login", "--token", one.add_user("a@example.org"), "--api-url", one.url, cwd=project).returncode == 0
        path = project / ".dynalab" / "m" / "config.yaml"
        path.write_text(path.read_text() + f"\napi_url: {two.url}\n")
        result = cli("upload", "-n", "m", cwd=project)
        assert_one_clear_error(result, 5, f"saved login is for {one.url}", f"login --api-url {two.url}")
        assert "Local test" not in result.stdout, "refused before any test ran"


def test_upload_given_a_token_flag_says_where_upload_takes_its_token_from(make_project, cli):
    project = make_project("contract-nli")
    result = cli("upload", "--token", "x", cwd=project)
    assert_one_clear_error(result, 2, "upload takes no --token: it sends the token saved by `dynalab-cli login`, "
                                      "or $DYNALAB_API_TOKEN", "login --token-stdin")
    assert "did you mean" not in result.stderr


def test_a_flag_of_another_step_is_named_as_such(make_project, cli):
    project = make_project("contract-nli")
    result = cli("upload", "--local", cwd=project)
    assert_one_clear_error(result, 2, "upload has no flag '--local' (it is a flag of test)", "dynalab-cli upload --help")


def test_flag_suggestions_come_from_the_step_being_parsed_and_never_repeat_the_word_typed():
    from dynalab.cli.program import DynalabProgram
    from dynalab.cli.usage_errors import flags

    program = DynalabProgram()
    steps = [name for name, command in program.commands.items() if command.listed]
    own = {step: flags(program.commands[step]) for step in steps}
    core = set(program.initial_context.flag_names())  # the program's own flags, known in every step
    for step in steps:
        for other in steps:
            for flag in set(own[other]) - set(own[step]) - core:
                with pytest.raises(UsageError) as caught:
                    DynalabProgram().run(["dynalab-cli", step, flag, "value"], exit=False)
                assert f"did you mean {flag!r}" not in str(caught.value), (step, flag)
    with pytest.raises(UsageError, match=r"did you mean '--force'\?"):
        DynalabProgram().run(["dynalab-cli", "upload", "--forse"], exit=False)
    with pytest.raises(UsageError, match=r"did you mean '--api-url'\?"):
        DynalabProgram().run(["dynalab-cli", "login", "--api-ur", "x"], exit=False)


def test_an_unknown_task_code_gets_a_suggestion(make_project, cli):
    project = make_project("contract-nli")
    result = cli("init", "-n", "m", "-t", "sentimnet", "--model-checkpoint", "model.pt", cwd=project)
    assert_one_clear_error(result, 2, "`task` = 'sentimnet': unknown task; did you mean 'sentiment'?")


def test_a_damaged_state_file_is_ignored_with_one_warning(make_project, cli):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    state = project / ".dynalab" / "m" / "state.yaml"
    for garbage in (b"steps: [1, 2]\n", b"steps:\n  local_test: \xff\xfe\n", b"uploads: {a: 1}\n", b"- 1\n"):
        state.write_bytes(garbage)
        result = cli("test", "--local", "-n", "m", "package", "-n", "m", cwd=project)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Local test passed" in result.stdout
        assert result.stderr.count("warning:") == 1, result.stderr  # once, though two steps read it
        assert f"warning: {state} is damaged (" in result.stderr and "it is rewritten" in result.stderr
        assert yaml.safe_load(state.read_text())["steps"]["local_test"]["status"] == "passed"


def test_a_state_file_that_is_a_folder_is_a_config_error_before_any_step_runs(make_project, cli):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    state = project / ".dynalab" / "m" / "state.yaml"
    state.mkdir()
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert_one_clear_error(result, 2, f"{state} is a folder", "remove it")
    assert "Local test of model" not in result.stdout


def test_a_config_that_is_a_folder_is_a_config_error(make_project, cli):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    config = project / ".dynalab" / "m" / "config.yaml"
    config.unlink()
    config.mkdir()
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert_one_clear_error(result, 2, f"{config}: is a folder, not a file", "dynalab-cli init -n m")


def test_debug_travels_as_an_argument_and_shows_the_traceback(make_project, monkeypatch, capsys):
    import signal

    from dynalab.cli.main import main

    project = make_project("contract-nli")
    monkeypatch.chdir(project)
    monkeypatch.delenv("DYNALAB_DEBUG", raising=False)
    handler = signal.getsignal(signal.SIGTERM)
    try:
        with pytest.raises(SystemExit) as exited:
            main(["dynalab-cli", "test", "--local", "--debug", "-n", "missing"])
    finally:
        signal.signal(signal.SIGTERM, handler)  # main() installs its own for the CLI's process
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "error: model 'missing' is not initialised" in err
    assert "DYNALAB_DEBUG" not in os.environ, "--debug is main()'s argument, not the environment's"
