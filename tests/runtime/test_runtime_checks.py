"""The judge both the local runner and the probe use, one datapoint or one batch at a time."""

import json

import pytest

from dynalab.runtime import checks
from dynalab.tasks.task_io import TaskIO


@pytest.fixture(scope="module")
def taskio():
    return TaskIO("nli")


def _answer(taskio, example, label="neutral"):
    return taskio.sign_response({"id": example["uid"], "label": label}, example)


def test_a_valid_response_passes_as_dict_json_text_or_http_body(taskio):
    example = taskio.mock_datapoints[0]
    response = _answer(taskio, example)
    for raw in (response, json.dumps(response), json.dumps(response).encode()):
        assert checks.judge(raw, example, taskio) == (response, [])
    assert checks.judge_handler_result([response], example, taskio) == (response, [])


def test_a_handler_must_return_a_list_of_exactly_one_response(taskio):
    example = taskio.mock_datapoints[0]
    response = _answer(taskio, example)
    for result in (response, [response, response], [], None):
        judged, problems = checks.judge_handler_result(result, example, taskio)
        assert [problem.field for problem in problems] == ["(response)"]
        assert "exactly one response" in problems[0].expected


def test_problems_of_the_task_come_through(taskio):
    example = taskio.mock_datapoints[0]
    response, problems = checks.judge_handler_result([_answer(taskio, example, "maybe")], example, taskio)
    assert response["label"] == "maybe"
    assert "label" in [problem.field for problem in problems]
    _, problems = checks.judge("not json", example, taskio)
    assert problems[0].field == "(response)"


def test_a_batch_is_judged_line_by_line_in_order(taskio):
    examples = taskio.mock_datapoints
    body = checks.batch_body(examples)
    assert [json.loads(line) for line in body.splitlines()] == examples

    answer = "\n".join(json.dumps(_answer(taskio, example)) for example in examples) + "\n"
    judged = checks.judge_batch_handler_result([answer], examples, taskio)
    assert [problems for _, problems in judged] == [[]] * len(examples)

    rotated = examples[1:] + examples[:1]  # every answer one line off
    shifted = "\n".join(json.dumps(_answer(taskio, example)) for example in rotated)
    assert all(problems for _, problems in checks.judge_batch(shifted, examples, taskio))


def test_a_batch_with_a_missing_line_fails_every_datapoint(taskio):
    examples = taskio.mock_datapoints
    answer = "\n".join(json.dumps(_answer(taskio, example)) for example in examples[:-1])
    judged = checks.judge_batch(answer.encode(), examples, taskio)
    assert len(judged) == len(examples)
    for _, problems in judged:
        assert problems[0].got == f"{len(examples) - 1} lines"
    assert judged[-1][0] is None


def test_a_batch_answer_that_is_not_text_fails_every_datapoint(taskio):
    examples = taskio.mock_datapoints
    judged = checks.judge_batch_handler_result([[{"id": 1}]], examples, taskio)
    assert len(judged) == len(examples)
    assert all("JSON lines" in problems[0].expected for _, problems in judged)
