"""Projects written for the original Dynalab, run through the real CLI: they pass, or fail naming the fix.

Each project gets its config the way the original ``init`` wrote it:
``.dynalab/<name>/setup_config.json``, JSON with 4-space indents.
"""

import json

import pytest


def original_init(project, task, model_files=(), requirements=False, name="m"):
    """Write the config the original tool's `init` wrote for a model."""
    config = {
        "task": task, "checkpoint": "model.pt", "handler": "handler.py",
        "requirements": requirements, "setup": False, "model_files": list(model_files), "exclude": [],
    }
    (project / ".dynalab" / name).mkdir(parents=True)
    (project / ".dynalab" / name / "setup_config.json").write_text(json.dumps(config, indent=4))


def output(result):
    return result.stdout + result.stderr


def failed_local_test(cli, project, task):
    """The local test of ``project`` initialised by the original tool for ``task``: it must fail (exit 3)."""
    original_init(project, task)
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert result.returncode == 3, output(result)
    return result


# ---- handlers written for the first API: `from dynalab.tasks.<task> import TaskIO`, `signed` ----

FIRST_API = {
    "first-api-flores": ("flores_small1", ["translate.py", "languages.json"]),
    "first-api-sentiment": ("sentiment", []),
}


@pytest.mark.parametrize("case", sorted(FIRST_API))
def test_a_first_api_handler_passes_the_local_test(make_project, cli, case):
    project = make_project(case)
    original_init(project, *FIRST_API[case])
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert result.returncode == 0, output(result)
    assert "Local test passed (3 of 3 mock inputs" in result.stdout


@pytest.mark.parametrize("case", sorted(FIRST_API))
def test_a_first_api_handler_passes_the_integrated_test(make_project, cli, case):
    project = make_project(case)
    original_init(project, *FIRST_API[case])
    result = cli("test", "-n", "m", "--backend", "sandbox", cwd=project)
    assert result.returncode == 0, output(result)
    assert "Integrated test passed on the sandbox backend: 3 of 3 datapoints" in result.stdout
    log = (project / ".dynalab" / "m" / "logs" / "integrated-test.log").read_text()
    assert '"signed": ' in log and '"signature": ' not in log, "the probe saw the first API's responses"


def test_a_first_api_response_changed_after_signing_fails_on_signed(make_project, cli):
    project = make_project("first-api-flores")
    handler = project / "handler.py"
    handler.write_text(handler.read_text().replace(
        "        return [response]",
        '        response["translatedText"] += "!"  # after signing: the signature no longer matches\n        return [response]',
    ))
    original_init(project, *FIRST_API["first-api-flores"])
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert result.returncode == 3, output(result)
    assert "    - `signed`: expected '" in result.stdout
    assert "Local test failed: 3 of 3 responses are invalid" in result.stderr


# ---- a custom task known only from the original's .dynalab/<task>.json ----

TOXICITY = {
    "config": {
        "context": [],
        "input": [
            {"name": "text", "type": "string", "placeholder": "Enter a comment"},
            {"name": "label", "type": "multiclass", "labels": ["toxic", "fine"]},
        ],
        "output": [{"name": "label"}],
    },
    "task": "toxicity",
}


def test_a_custom_task_known_only_from_the_original_task_file_is_found(make_project, cli):
    project = make_project("original-task-file")
    original_init(project, "toxicity")
    task_file = project / ".dynalab" / "toxicity.json"
    task_file.write_text(json.dumps(TOXICITY, indent=4))  # as the original `init` wrote it
    written = task_file.read_text()
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert result.returncode == 0, output(result)
    assert "unknown task" not in output(result)
    assert "Local test of model 'm' (task 'toxicity')" in result.stdout
    assert "Local test passed (3 of 3 mock inputs" in result.stdout
    assert task_file.read_text() == written, "the original's file is the user's: it is left as it was"


def test_an_invalid_original_task_file_is_named(make_project, cli):
    project = make_project("original-task-file")
    original_init(project, "toxicity")
    broken = json.loads(json.dumps(TOXICITY))
    broken["config"]["input"][1]["labels"] = []
    (project / ".dynalab" / "toxicity.json").write_text(json.dumps(broken, indent=4))
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert result.returncode == 2
    assert result.stderr.startswith(
        "error: .dynalab/toxicity.json: config.input[1].labels = []: a multiclass field needs a non-empty list of labels"
    ), result.stderr
    assert "Traceback" not in result.stderr


# ---- a file opened by bare name that is in the project but not in model_files ----


def test_a_tokenizer_file_missing_from_model_files_is_named_with_the_fix(make_project, cli):
    project = make_project("tokenizer-file")
    result = failed_local_test(cli, project, "nli")
    assert (
        "hint: add tokenizer/merges.txt to `model_files` in the model config (model files are placed next to the "
        "handler under their bare name), or open it as os.path.join(ROOTPATH, 'tokenizer/merges.txt')"
    ) in result.stderr
    assert "handle(None, context), called once" not in result.stderr, "not the generic load hint"

    fixed = cli("init", "-n", "m", "--amend", "--model-files", "tokenizer/merges.txt", cwd=project)
    assert fixed.returncode == 0, output(fixed)
    assert "Local test passed" in cli("test", "--local", "-n", "m", cwd=project).stdout


def test_an_import_of_a_module_dynalab_lacks_names_the_supported_imports(make_project, cli):
    project = make_project("first-api-sentiment")
    (project / "handler.py").write_text(
        (project / "handler.py").read_text().replace("dynalab.tasks.sentiment", "dynalab.tasks.sentiment_analysis")
    )
    result = failed_local_test(cli, project, "sentiment")
    assert (
        "hint: dynalab.tasks.sentiment_analysis is not a module of Dynalab: import TaskIO from dynalab.tasks.task_io "
        "and use TaskIO('sentiment_analysis'); the original's first API also has dynalab.tasks.nli, dynalab.tasks.qa, "
        "dynalab.tasks.sentiment, dynalab.tasks.hs, dynalab.tasks.flores_small1, dynalab.tasks.flores_small2, "
        "dynalab.tasks.flores_full (TaskIO() without a task code)"
    ) in result.stderr


# ---- a requirement that requirements.txt lists but the config does not install ----


def test_a_listed_but_uninstalled_requirement_names_the_importing_file_and_the_amend_command(make_project, cli):
    project = make_project("listed-requirement")
    original_init(project, "nli", model_files=["model.py"])
    result = cli("test", "-n", "m", "--backend", "sandbox", cwd=project)
    assert result.returncode == 4, output(result)
    assert result.stderr.startswith(
        "error: integrated test failed on the sandbox backend: ModuleNotFoundError: No module named 'yaml': "
        "model.py imports 'yaml', which the deployment does not install: requirements.txt lists pyyaml, "
        "but the model config does not install it (`requirements: false`)\n"
        "hint: run `dynalab-cli init -n m --amend -r`: it sets `requirements: true`"
    ), result.stderr

    # The fix it names is the fix.
    assert cli("init", "-n", "m", "--amend", "-r", cwd=project).returncode == 0
    again = cli("test", "-n", "m", "--backend", "sandbox", cwd=project)
    assert again.returncode == 0, output(again)
    assert "Integrated test passed" in again.stdout
