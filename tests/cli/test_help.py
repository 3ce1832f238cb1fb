"""`dynalab-cli --help` and `dynalab-cli STEP --help` are Dynalab's own; invoke's options never reach a step."""

import re

import pytest

from dynalab.steps.declarations import STEPS

INVOKE_WORDING = ("--core-opts", "Docstring:", "--list", "[other tasks here ...]", "Core options", "--complete",
                  "--echo", "--pty", "--warn-only", "--dry")


def steps_listed(help_text):
    """The step words of the "Steps, in workflow order" block, in order."""
    block = help_text.split("Steps, in workflow order:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in block.splitlines() if line.startswith("  ") and not line.startswith("   ")]


def test_the_program_help_lists_the_steps_in_workflow_order_with_examples_and_no_invoke_wording(cli, tmp_path):
    result = cli("--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert steps_listed(text) == ["init", "predict", "test", "package", "login", "upload", "status", "publish",
                                  "unpublish", "logout", "doctor"]
    for word in INVOKE_WORDING:
        assert word not in text, word
    assert "local-test" not in text and "integrated-test" not in text, "aliases are not listed"
    assert "Global options:" in text and "--debug" in text and "--version" in text
    assert "  dynalab-cli test --local -n my-model upload -n my-model" in text  # an example line
    assert "Read more: `dynalab-cli STEP --help`" in text and "README" in text
    assert "Exit codes:" in text
    assert cli(cwd=tmp_path).stdout == text, "no step: the same help"


def test_test_help_shows_its_flags_what_it_depends_on_and_examples(cli, tmp_path):
    result = cli("test", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("Usage: dynalab-cli test [-n NAME] [-l] [-f] [-b BACKEND] [--json]\n")
    for flag in ("-n NAME, --name NAME", "-l, --local", "-f, --force", "-b BACKEND, --backend BACKEND", "--json"):
        assert f"  {flag}  " in text, flag
    assert re.search(r"Depends on:\n  with --local +nothing\n  otherwise +`test --local`, then `package`", text), text
    assert "Examples:\n  dynalab-cli test --local -n my-model\n  dynalab-cli test -n my-model" in text
    for word in INVOKE_WORDING:
        assert word not in text, word


@pytest.mark.parametrize("word", sorted({step.word for step in STEPS}))
def test_every_step_has_help_with_flags_and_an_example(cli, tmp_path, word):
    result = cli(word, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Usage: dynalab-cli {word} ")
    assert "Flags:" in result.stdout and "--json" in result.stdout
    assert f"Examples:\n  dynalab-cli {word}" in result.stdout or "Examples:\n  dynalab-cli " in result.stdout


def test_an_alias_still_runs_though_no_help_names_it(make_project, cli):
    project = make_project("contract-nli")
    assert cli("init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", "--model-files",
               "labels.json,rules.py", cwd=project).returncode == 0
    result = cli("local-test", "-n", "m", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Local test passed" in result.stdout


def test_invokes_own_flags_do_not_reach_a_step(make_project, cli):
    project = make_project("contract-nli")
    # invoke's -f is its config file: once it made `init -f x` an internal error (UnknownFileType).
    for args, word in ((("init", "-n", "m", "-f", "x"), "'-f'"), (("test", "--local", "-e"), "'-e'"),
                       (("--list",), "'--list'")):
        result = cli(*args, cwd=project)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.startswith("error: "), result.stderr
        assert word in result.stderr and "internal error" not in result.stderr


def test_a_flag_of_the_integrated_test_is_refused_with_local(make_project, cli):
    project = make_project("contract-nli")
    result = cli("test", "--local", "--backend", "docker", cwd=project)
    assert result.returncode == 2
    assert "error: --backend is a flag of the integrated test, not of the local test" in result.stderr


def test_the_shell_completion_script_and_candidates_name_dynalab_cli_and_its_steps(cli, tmp_path):
    script = cli("--print-completion-script", "bash", cwd=tmp_path)
    assert script.returncode == 0, script.stderr
    assert "dynalab-cli" in script.stdout and "--complete" in script.stdout
    candidates = cli("--complete", "--", "dynalab-cli", "te", cwd=tmp_path)
    assert candidates.returncode == 0, candidates.stderr
    assert "test" in candidates.stdout.split()
    flags = cli("--complete", "--", "dynalab-cli", "test", "--", cwd=tmp_path)
    assert "--local" in flags.stdout.split() and "--backend" in flags.stdout.split()
