"""`dynalab-cli predict`: the handler on the user's own example, with the response and the task's checks."""

import json

import pytest

INIT = ["init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py"]
EXAMPLE = {"context": "A man is sleeping on the couch.", "hypothesis": "A person rests."}


@pytest.fixture
def nli_bow(make_project, cli, torch):
    project = make_project("example")
    assert cli(*INIT, "--model-files", "vocab.json,labels.py", "--exclude", "train.py", cwd=project).returncode == 0
    return project


def test_the_example_prints_its_response_and_checks_passed(nli_bow, cli):
    result = cli("predict", "-n", "m", "--input", json.dumps(EXAMPLE), cwd=nli_bow)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    asked = next(line for line in lines if line.startswith("Input 1 of 1: "))
    assert json.loads(asked[len("Input 1 of 1: "):])["hypothesis"] == "A person rests."
    response = json.loads(next(line for line in lines if line.startswith("  response: "))[len("  response: "):])
    assert response["label"] in ("entailed", "neutral", "contradictory") and response["signature"]
    assert "  checks passed" in lines
    assert "in your environment" in result.stdout


def test_a_bad_response_prints_the_failed_check_with_its_hint(make_project, cli):
    project = make_project("bad-label")
    assert cli(*INIT, cwd=project).returncode == 0
    result = cli("predict", "-n", "m", "--input", json.dumps(EXAMPLE), cwd=project)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "  checks failed:" in result.stdout
    assert "    - `label`: expected one of entailed, neutral, contradictory, got 'maybe'" in result.stdout
    assert "      hint: " in result.stdout
    assert result.stderr.startswith("error: predict: 1 of 1 responses fail the task's checks")
    assert "Traceback" not in result.stderr


def test_a_file_of_json_lines_is_one_prediction_a_line(contract_nli, cli):
    examples = contract_nli / "examples.jsonl"
    examples.write_text(json.dumps(EXAMPLE) + "\n\n" + json.dumps({**EXAMPLE, "uid": "mine"}) + "\n")
    result = cli("predict", "-n", "m", "--input-file", str(examples), cwd=contract_nli)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Input 1 of 2: " in result.stdout and "Input 2 of 2: {\"uid\": \"mine\"" in result.stdout
    assert result.stdout.count("  checks passed") == 2


@pytest.mark.parametrize("given, words", [
    ({"context": "only a context"}, ["--input: the example lacks 'hypothesis'", "task 'nli' takes context, hypothesis"]),
    ({**EXAMPLE, "premise": "x"}, ["has no use for 'premise'"]),
])
def test_an_input_that_does_not_fit_the_task_is_refused_before_anything_runs(contract_nli, cli, given, words):
    result = cli("predict", "-n", "m", "--input", json.dumps(given), cwd=contract_nli)
    assert result.returncode == 2, result.stdout + result.stderr
    for word in words:
        assert word in result.stderr
    assert "hint: e.g. --input '{\"context\": " in result.stderr
    assert "Predicting" not in result.stdout


def test_an_input_that_is_not_json_or_missing_is_a_usage_error(contract_nli, cli):
    broken = cli("predict", "-n", "m", "--input", "{context: x}", cwd=contract_nli)
    assert broken.returncode == 2 and "--input: not valid JSON" in broken.stderr
    neither = cli("predict", "-n", "m", cwd=contract_nli)
    assert neither.returncode == 2 and "predict needs one example: --input JSON, or --input-file FILE" in neither.stderr


def test_integrated_runs_the_packaged_model_in_the_isolated_environment(contract_nli, cli):
    result = cli("predict", "-n", "m", "--input", json.dumps(EXAMPLE), "--integrated", "--backend", "sandbox",
                 cwd=contract_nli)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "packaged, on the sandbox backend" in result.stdout
    assert result.stdout.index("Package ") < result.stdout.index("Input 1 of 1: ")
    assert "  checks passed" in result.stdout
    log = (contract_nli / ".dynalab" / "m" / "logs" / "predict.log").read_text()
    assert "A person rests." in log, "the probe sent the user's example, not the mock ones"


def test_predict_json_holds_each_prediction_and_its_problems(make_project, cli):
    project = make_project("bad-label")
    assert cli(*INIT, cwd=project).returncode == 0
    result = cli("predict", "-n", "m", "--input", json.dumps(EXAMPLE), "--json", cwd=project)
    assert result.returncode == 3
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["step"] == "predict" and record["status"] == "failed" and record["runner"] == "local"
    [prediction] = record["predictions"]
    assert prediction["passed"] is False and prediction["response"]["label"] == "maybe"
    assert [problem["field"] for problem in prediction["problems"]] == ["label"]
    assert record["error"]["class"] == "LocalTestFailed" and record["error"]["exit_code"] == 3
