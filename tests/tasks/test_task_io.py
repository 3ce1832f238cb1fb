import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dynalab.tasks import annotations, task_io
from dynalab.tasks.registry import builtin_task_codes, load_builtin
from dynalab.tasks.task_io import (
    Problem,
    ResponseInvalid,
    TaskDefinitionError,
    TaskIO,
    UnknownTask,
    parse_response,
)

REPO = Path(__file__).resolve().parents[2]
SIGN_HINT = "call self.taskIO.sign_response(response, example) last, after setting every output field"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    monkeypatch.delenv("MY_SECRET", raising=False)
    monkeypatch.delenv("DYNALAB_TASK_FILE", raising=False)


def valid_response(task, example, index=0):
    """A correct signed response, taking the index-th mock value of every output field."""
    response = {"id": example["uid"]}
    for name, field in task.output_fields.items():
        values = annotations.mock_values(field, task.fields, example)
        response[name] = values[index % len(values)]
    return task.sign_response(response, example)


def fields_of(problems):
    return [problem.field for problem in problems]


# ---- signatures ----

NLI_EXAMPLE = {"uid": "u1", "context": "A man sleeps.", "hypothesis": "Nobody sleeps.", "label": "contradictory"}
NLI_RESPONSE = {"id": "u1", "label": "neutral", "prob": {"entailed": 0.25, "neutral": 0.5, "contradictory": 0.25}}


def test_signature_known_answer():
    # Secret, task code, inputs by sorted name (the target `label` is not an input),
    # then outputs by sorted name, each as str(value).
    expected = hashlib.sha1(
        (
            ""
            + "nli"
            + "A man sleeps."
            + "Nobody sleeps."
            + "neutral"
            + "{'entailed': 0.25, 'neutral': 0.5, 'contradictory': 0.25}"
        ).encode("utf-8")
    ).hexdigest()
    assert expected == "0cc9c2dbbe77fd3caac2209bbef90331582b66df"
    assert TaskIO("nli").generate_response_signature(dict(NLI_RESPONSE), NLI_EXAMPLE) == expected


def test_signature_sorts_names_and_skips_absent_fields():
    task = TaskIO.from_definition(
        {
            "task": "order",
            "config": {
                "context": [{"name": "zeta", "type": "string"}],
                "input": [{"name": "alpha", "type": "string"}, {"name": "mu", "type": "string"}],
                "output": [{"name": "zz", "type": "string"}, {"name": "aa", "type": "string"}],
            },
        }
    )
    example = {"uid": "1", "zeta": "Z", "alpha": "é"}  # `mu` absent
    response = {"id": "1", "zz": "2", "aa": "1", "unknown": "ignored"}
    expected = hashlib.sha1(("order" + "é" + "Z" + "1" + "2").encode("utf-8")).hexdigest()
    assert task.generate_response_signature(response, example) == expected


def test_signature_secret_comes_from_my_secret_first(monkeypatch):
    task = TaskIO("nli")
    plain = task.generate_response_signature(NLI_RESPONSE, NLI_EXAMPLE)
    with_argument = task.generate_response_signature(NLI_RESPONSE, NLI_EXAMPLE, secret="s3cret")
    assert with_argument != plain
    monkeypatch.setenv("MY_SECRET", "s3cret")
    assert task.generate_response_signature(NLI_RESPONSE, NLI_EXAMPLE) == with_argument
    assert task.generate_response_signature(NLI_RESPONSE, NLI_EXAMPLE, secret="other") == with_argument


def test_sign_response_sets_the_signature_and_returns_the_response():
    task = TaskIO("nli")
    response = dict(NLI_RESPONSE)
    assert task.sign_response(response, NLI_EXAMPLE) is response
    assert response["signature"] == task.generate_response_signature(NLI_RESPONSE, NLI_EXAMPLE)
    # Signing again gives the same signature: the old one is not signed over.
    assert task.generate_response_signature(response, NLI_EXAMPLE) == response["signature"]


# ---- mock data ----


@pytest.mark.parametrize("code", builtin_task_codes())
def test_mock_data_of_every_builtin_task_passes_with_correct_responses(code):
    task = TaskIO(code)
    for index, example in enumerate(task.get_mock_data()):
        response = valid_response(task, example, index)
        assert task.check_response(response, example) == []
        assert task.verify_response(json.dumps(response), example) == response
        assert task.check_response(task.get_sample_output(example), example) == []


@pytest.mark.parametrize("code", builtin_task_codes())
def test_mock_examples_hold_a_fresh_uid_and_the_inputs_but_no_target(code):
    task = TaskIO(code)
    examples = task.mock_datapoints
    assert [list(example) for example in examples] == [["uid", *task.input_names]] * len(examples)
    assert not set(task.target_names) & set(examples[0])
    uids = [example["uid"] for example in examples] + [e["uid"] for e in TaskIO(code).mock_datapoints]
    assert len(set(uids)) == len(uids)


def test_mock_examples_cover_every_mock_value_of_every_field():
    task = TaskIO("sentiment")
    statements = [example["statement"] for example in task.mock_datapoints]
    assert statements == list(annotations.MOCK_STRINGS)
    assert "It is a good day" in statements
    assert task.get_input_json() == task.mock_datapoints[0]


def test_mock_examples_of_a_custom_task():
    task = TaskIO.from_definition(
        {
            "task": "topics",
            "config": {
                "context": [{"name": "passage", "type": "string"}],
                "input": [
                    {"name": "evidence", "type": "context_string_selection", "reference_name": "passage"},
                    {"name": "kind", "type": "multiclass", "labels": ["a", "b", "c", "d", "e"]},
                    {"name": "topics", "type": "multilabel", "labels": ["sports", "politics"]},
                ],
                "output": [{"name": "topics"}, {"name": "scores", "type": "prob", "reference_name": "topics"}],
            },
        }
    )
    examples = task.mock_datapoints
    assert len(examples) == 5  # the five labels of `kind`, the longest list; strings cycle
    assert [example["kind"] for example in examples] == ["a", "b", "c", "d", "e"]
    assert all(example["evidence"] in example["passage"] for example in examples)
    assert list(examples[0]) == ["uid", "passage", "evidence", "kind"]
    for index, example in enumerate(examples):
        assert task.check_response(valid_response(task, example, index), example) == []


# ---- failures ----


@pytest.fixture
def nli():
    task = TaskIO("nli")
    example = task.mock_datapoints[0]
    return task, example, valid_response(task, example)


def resign(task, response, example):
    return task.sign_response(response, example)


def test_wrong_label(nli):
    task, example, response = nli
    response = resign(task, {**response, "label": "entailment"}, example)
    (problem,) = task.check_response(response, example)
    assert problem == Problem(
        "label",
        "one of entailed, neutral, contradictory",
        "'entailment'",
        "return one of: entailed, neutral, contradictory",
    )


def test_missing_target(nli):
    task, example, response = nli
    del response["label"]
    response = resign(task, response, example)
    (problem,) = task.check_response(response, example)
    assert (problem.field, problem.got) == ("label", "(missing)")
    assert "one of entailed, neutral, contradictory" in problem.hint


def test_optional_outputs_may_be_left_out(nli):
    task, example, response = nli
    del response["prob"]
    assert task.check_response(resign(task, response, example), example) == []


def test_unknown_field(nli):
    task, example, response = nli
    response = resign(task, {**response, "hypothesis": example["hypothesis"]}, example)
    (problem,) = task.check_response(response, example)
    assert problem.field == "hypothesis"
    assert "holds only id, label, prob, signature" in problem.hint


def test_bad_signature(nli):
    task, example, response = nli
    response["label"] = "neutral" if response["label"] != "neutral" else "entailed"  # changed after signing
    (problem,) = task.check_response(response, example)
    assert problem.field == "signature"
    assert problem.hint.startswith(SIGN_HINT)


def test_missing_signature(nli):
    task, example, response = nli
    del response["signature"]
    assert task.check_response(response, example) == [Problem("signature", "the response's signature", "(missing)", SIGN_HINT)]


def test_signature_with_another_secret(nli, monkeypatch):
    task, example, response = nli
    monkeypatch.setenv("MY_SECRET", "server-side secret")
    assert fields_of(task.check_response(response, example)) == ["signature"]


def test_wrong_id(nli):
    task, example, response = nli
    other = task.mock_datapoints[1]
    response = resign(task, {**response, "id": other["uid"]}, example)
    (problem,) = task.check_response(response, example)
    assert (problem.field, problem.expected, problem.got) == ("id", repr(example["uid"]), repr(other["uid"]))


def test_missing_id(nli):
    task, example, response = nli
    del response["id"]
    assert fields_of(task.check_response(response, example)) == ["id"]


def test_prob_not_summing_to_one(nli):
    task, example, response = nli
    response = resign(task, {**response, "prob": {"entailed": 0.5, "neutral": 0.3, "contradictory": 0.3}}, example)
    (problem,) = task.check_response(response, example)
    assert problem.field == "prob"
    assert "sum to 1.1" in problem.hint


def test_answer_not_a_substring_of_the_context():
    task = TaskIO("qa")
    example = task.mock_datapoints[0]
    response = task.sign_response({"id": example["uid"], "answer": "not in there"}, example)
    (problem,) = task.check_response(response, example)
    assert (problem.field, problem.expected) == ("answer", "a substring of context")


def test_confidence_must_be_a_number():
    task = TaskIO("qa")
    example = task.mock_datapoints[0]
    response = task.sign_response({"id": example["uid"], "answer": example["context"][:5], "conf": True}, example)
    assert fields_of(task.check_response(response, example)) == ["conf"]


def test_values_that_json_cannot_carry(nli):
    task, example, response = nli
    response = resign(task, {**response, "label": {"entailed"}}, example)
    assert fields_of(task.check_response(response, example)) == ["label", "label"]


def test_several_problems_are_all_reported(nli):
    task, example, response = nli
    response = {"id": "nope", "prob": {"entailed": 1.0}, "extra": 1}
    assert fields_of(task.check_response(response, example)) == ["id", "label", "prob", "extra", "signature"]


@pytest.mark.parametrize(
    "raw, words",
    [("not json", "json.dumps() of one"), ("[1, 2]", "one response dict"), (["x"], "one response dict"), (None, "")],
)
def test_responses_that_are_not_json_objects(raw, words):
    task = TaskIO("nli")
    example = task.mock_datapoints[0]
    (problem,) = task.check_response(raw, example)
    assert problem.field == "(response)"
    assert words in problem.hint


def test_parse_response_accepts_dicts_and_json_strings():
    assert parse_response({"id": 1}) == ({"id": 1}, None)
    assert parse_response('{"id": 1}') == ({"id": 1}, None)
    assert parse_response(b'{"id": 1}') == ({"id": 1}, None)
    response, problem = parse_response("{")
    assert response is None and problem.expected == "a dict (or a JSON object as a string)"


def test_verify_response_raises_with_every_problem(nli):
    task, example, response = nli
    response["label"] = "maybe"
    with pytest.raises(ResponseInvalid) as caught:
        task.verify_response(response, example)
    assert isinstance(caught.value, AssertionError)
    assert fields_of(caught.value.problems) == ["label", "signature"]
    message = str(caught.value)
    assert message.startswith(f"the response to example {example['uid']} is invalid (2 problem(s)):\n")
    assert "  - label: expected one of entailed, neutral, contradictory, got 'maybe' -> return one of:" in message


# ---- finding the definition ----


def write_definition(path, code="nli", name="custom"):
    definition = load_builtin("nli")
    definition["task"], definition["name"] = code, name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(definition))
    return path


def test_lookup_order(tmp_path, monkeypatch):
    explicit = write_definition(tmp_path / "explicit.json", name="explicit")
    from_env = write_definition(tmp_path / "env.json", name="env")
    other_task = write_definition(tmp_path / "other.json", code="other", name="other")
    in_root = write_definition(tmp_path / "root" / ".dynalab" / "nli.json", name="root")
    in_cwd = write_definition(tmp_path / "cwd" / ".dynalab" / "nli.json", name="cwd")
    monkeypatch.setenv(task_io.ROOTPATH_ENV, str(tmp_path / "root"))
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("DYNALAB_TASK_FILE", str(from_env))

    def name():
        return TaskIO("nli").definition["name"]

    assert TaskIO("nli", task_info_path=str(explicit)).definition["name"] == "explicit"
    assert name() == "env"
    monkeypatch.setenv("DYNALAB_TASK_FILE", str(other_task))  # defines another task: skipped
    assert name() == "root"
    assert TaskIO("other").definition["name"] == "other"
    in_root.unlink()
    assert name() == "cwd"
    in_cwd.unlink()
    assert name() == "Natural language inference"


def test_a_task_file_for_another_task_is_refused(tmp_path):
    path = write_definition(tmp_path / "other.json", code="other")
    with pytest.raises(TaskDefinitionError, match="defines another task than 'nli'"):
        TaskIO("nli", task_info_path=path)


def test_a_broken_packaged_definition_is_reported(tmp_path, monkeypatch):
    path = tmp_path / ".dynalab" / "nli.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"task": "nli", "config": {}}))
    monkeypatch.setenv(task_io.ROOTPATH_ENV, str(tmp_path))
    with pytest.raises(TaskDefinitionError, match=r"nli.json: 3 problems"):
        TaskIO("nli")


def test_unknown_task(tmp_path, monkeypatch):
    monkeypatch.setenv(task_io.ROOTPATH_ENV, str(tmp_path))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnknownTask, match="unknown task 'nope' .known tasks: flores_full, flores_small1, flores_small2, hs, nli, qa, sentiment, vqa"):
        TaskIO("nope")
    with pytest.raises(UnknownTask):
        TaskIO("../nli")


def test_from_definition_copies_the_definition():
    definition = load_builtin("hs")
    task = TaskIO.from_definition(definition)
    definition["config"]["output"].clear()
    assert list(task.output_fields) == ["label", "prob"]
    assert task.task_code == "hs" and task.target_names == ["label"]


# ---- what runs next to the model ----


def run_python(code, **env):
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_task_io_imports_only_the_standard_library(tmp_path):
    task_file = write_definition(tmp_path / "nli.json")
    output = run_python(
        "import json, sys\n"
        "before = set(sys.modules)\n"  # whatever site-packages' .pth files load is not ours
        "from dynalab.tasks.task_io import TaskIO\n"
        "TaskIO('nli').get_sample_output()\n"
        "print(json.dumps([sorted(set(sys.modules) - before), 'yaml' in sys.modules]))",
        DYNALAB_TASK_FILE=str(task_file),
    )
    modules, yaml_imported = json.loads(output)
    assert "dynalab.tasks.task_io" in modules and not yaml_imported
    outside = {m.split(".")[0] for m in modules} - set(sys.stdlib_module_names) - {"dynalab"}
    assert outside == set()


def test_rootpath_comes_from_the_environment(tmp_path):
    code = "from dynalab.tasks.task_io import ROOTPATH; print(ROOTPATH)"
    assert run_python(code, DYNALAB_ROOTPATH=str(tmp_path)).strip() == str(tmp_path)
    assert run_python(code, DYNALAB_ROOTPATH="").strip() == str(REPO)


def test_rootpath_is_read_when_asked_for_not_when_task_io_was_first_imported(tmp_path):
    code = (
        "import os, json\n"
        "from dynalab.tasks import task_io\n"
        "from dynalab.handler import base_handler\n"
        "before = task_io.ROOTPATH\n"
        f"os.environ['DYNALAB_ROOTPATH'] = {str(tmp_path)!r}\n"
        "from dynalab.tasks.task_io import ROOTPATH\n"
        "print(json.dumps([before, task_io.ROOTPATH, ROOTPATH, base_handler.ROOTPATH]))"
    )
    before, after, imported, from_base = json.loads(run_python(code, DYNALAB_ROOTPATH=""))
    assert before == str(REPO)
    assert after == imported == from_base == str(tmp_path)
