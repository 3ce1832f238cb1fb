"""The original Dynalab's first task API: per-task modules, TaskIO() without a code, `signed`."""

import hashlib
import importlib
import json

import pytest

from dynalab.runtime import checks
from dynalab.tasks import task_io
from dynalab.tasks.task_io import ResponseInvalid, TaskIO

FIRST_API_TASKS = ["nli", "qa", "sentiment", "hs", "flores_small1", "flores_small2", "flores_full"]

FLORES_EXAMPLE = {"uid": "u7", "sourceLanguage": "eng", "targetLanguage": "hrv", "sourceText": "A good day."}
SENTIMENT_EXAMPLE = {"uid": "u3", "statement": "What a good day"}
NLI_EXAMPLE = {"uid": "u1", "context": "A man sleeps.", "hypothesis": "Nobody sleeps."}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    monkeypatch.delenv("MY_SECRET", raising=False)
    monkeypatch.delenv("DYNALAB_TASK_FILE", raising=False)


def sha1(*parts):
    return hashlib.sha1("".join(parts).encode("utf-8")).hexdigest()


def first_api_task_io(code):
    """``from dynalab.tasks.<code> import TaskIO; TaskIO()``, as a handler of that API does."""
    return importlib.import_module(f"dynalab.tasks.{code}").TaskIO()


@pytest.mark.parametrize("code", FIRST_API_TASKS)
def test_every_first_api_module_gives_a_taskio_built_without_a_task_code(code):
    module = importlib.import_module(f"dynalab.tasks.{code}")
    assert module.TaskIO().task_code == code


def test_common_holds_the_base_class_of_every_task():
    from dynalab.tasks import flores_full, nli
    from dynalab.tasks.common import BaseTaskIO

    assert issubclass(nli.TaskIO, BaseTaskIO) and issubclass(flores_full.TaskIO, BaseTaskIO)


def test_sign_response_sets_signed_and_returns_the_same_response():
    response = {"id": "u3", "label": "positive"}
    returned = first_api_task_io("sentiment").sign_response(response, SENTIMENT_EXAMPLE)
    assert returned is response
    assert set(response) == {"id", "label", "signed"}
    assert response["signed"] == sha1("", "sentiment", "What a good day", "positive")


@pytest.mark.parametrize("code", ["flores_small1", "flores_small2", "flores_full"])
def test_the_translation_tracks_sign_as_flores_over_both_languages_and_the_text(code):
    response = first_api_task_io(code).sign_response({"id": "u7", "translatedText": "Dobar dan."}, FLORES_EXAMPLE)
    # Inputs in sorted name order: sourceLanguage, sourceText, targetLanguage; then the translation.
    assert response["signed"] == sha1("", "flores", "eng", "A good day.", "hrv", "Dobar dan.")


def test_optional_outputs_are_not_signed():
    probs = {"entailed": 0.1, "neutral": 0.2, "contradictory": 0.7}
    nli = first_api_task_io("nli").sign_response({"id": "u1", "label": "contradictory", "prob": probs}, NLI_EXAMPLE)
    assert nli["signed"] == sha1("", "nli", "A man sleeps.", "Nobody sleeps.", "contradictory")
    example = {"uid": "u2", "context": "Paris is in France.", "question": "Where is Paris?"}
    qa = first_api_task_io("qa").sign_response({"id": "u2", "answer": "France", "conf": 0.9}, example)
    assert qa["signed"] == sha1("", "qa", "Paris is in France.", "Where is Paris?", "France")


def test_the_secret_comes_from_my_secret(monkeypatch):
    monkeypatch.setenv("MY_SECRET", "s3cret")
    response = first_api_task_io("hs").sign_response({"id": "u3", "label": "not-hateful"}, SENTIMENT_EXAMPLE)
    assert response["signed"] == sha1("s3cret", "hs", "What a good day", "not-hateful")


def test_a_signed_response_is_checked_with_the_first_api_rules():
    # Scores that do not sum to 1 and a prob the signature leaves out: fine in that API.
    scores = {"positive": 0.6, "negative": 0.6, "neutral": 0.2}
    response = first_api_task_io("sentiment").sign_response({"id": "u3", "label": "positive", "prob": scores}, SENTIMENT_EXAMPLE)
    assert TaskIO("sentiment").check_response(response, SENTIMENT_EXAMPLE) == []
    assert TaskIO("sentiment").check_response(json.dumps(response), SENTIMENT_EXAMPLE) == []


def test_todays_rules_still_apply_to_a_response_with_a_signature():
    scores = {"positive": 0.6, "negative": 0.6, "neutral": 0.2}
    today = TaskIO("sentiment")
    response = today.sign_response({"id": "u3", "label": "positive", "prob": scores}, SENTIMENT_EXAMPLE)
    (problem,) = today.check_response(response, SENTIMENT_EXAMPLE)
    assert problem.field == "prob" and "sum to 1.4" in problem.hint


def test_a_field_changed_after_signing_breaks_the_signed_field():
    response = first_api_task_io("flores_small1").sign_response({"id": "u7", "translatedText": "Dobar dan."}, FLORES_EXAMPLE)
    response["translatedText"] = "Dobar dan!"
    (problem,) = TaskIO("flores_small1").check_response(response, FLORES_EXAMPLE)
    assert problem.field == "signed" and "sign_response(response, example) last" in problem.hint


def test_signing_under_the_tasks_own_code_is_not_the_first_api_signature():
    # A hand-made signature over "flores_small1" instead of the API's "flores".
    wrong = sha1("", "flores_small1", "eng", "A good day.", "hrv", "Dobar dan.")
    response = {"id": "u7", "translatedText": "Dobar dan.", "signed": wrong}
    assert [p.field for p in TaskIO("flores_small1").check_response(response, FLORES_EXAMPLE)] == ["signed"]


def test_a_first_api_response_is_held_to_its_fields():
    response = first_api_task_io("nli").sign_response({"id": "u1", "label": "maybe", "score": 3}, NLI_EXAMPLE)
    problems = {p.field: p for p in TaskIO("nli").check_response(response, NLI_EXAMPLE)}
    assert set(problems) == {"label", "score"}
    assert problems["score"].hint == "remove it: a response of task nli holds only id, label, prob, signed"


def test_a_signed_response_for_a_task_the_first_api_never_had_says_how_to_sign_today():
    example = TaskIO("vqa").get_input_json()
    (problem,) = TaskIO("vqa").check_response({"id": example["uid"], "answer": "a cat", "signed": "x"}, example)
    assert problem.field == "signed"
    assert "first API (which set `signed`) had no task 'vqa'" in problem.hint
    assert "TaskIO('vqa').sign_response(response, example), which sets `signature`" in problem.hint


def test_verify_response_raises_an_assertion_error_as_that_api_did():
    taskio = first_api_task_io("qa")
    example = {"uid": "u2", "context": "Paris is in France.", "question": "Where is Paris?"}
    good = taskio.sign_response({"id": "u2", "answer": "France"}, example)
    assert taskio.verify_response(good, example) == good
    with pytest.raises(AssertionError) as error:
        taskio.verify_response(taskio.sign_response({"id": "u2", "answer": "Spain"}, example), example)
    assert isinstance(error.value, ResponseInvalid) and "answer" in str(error.value)


def test_the_runtime_judges_first_api_responses_one_by_one_and_batched():
    taskio = TaskIO("flores_full")
    examples = taskio.get_mock_data()
    handler_io = first_api_task_io("flores_full")
    responses = [handler_io.sign_response({"id": e["uid"], "translatedText": e["sourceText"]}, e) for e in examples]
    assert checks.judge_handler_result([responses[0]], examples[0], taskio) == (responses[0], [])
    body = "\n".join(json.dumps(response) for response in responses)
    assert [problems for _, problems in checks.judge_batch(body, examples, taskio)] == [[]] * len(examples)


def test_module_data_holds_the_tasks_mock_examples():
    from dynalab.tasks import flores_small2

    data = flores_small2.data
    assert data is flores_small2.data, "made once, like a module constant"
    assert [(e["sourceLanguage"], e["targetLanguage"]) for e in data] == [("eng", "ind"), ("ind", "eng"), ("jav", "msa")]
    assert all(e["uid"] and e["sourceText"] for e in data)
    assert flores_small2.TaskIO().data is data
    with pytest.raises(AttributeError, match="has no attribute 'labels'"):
        flores_small2.labels  # noqa: B018


def test_the_first_api_reads_no_definition_until_a_check_needs_one(tmp_path, monkeypatch):
    # Where no definition can be found, building and signing still work, as they did.
    monkeypatch.setenv(task_io.ROOTPATH_ENV, str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(task_io, "load_builtin", lambda code: pytest.fail("a definition was read"))
    response = first_api_task_io("hs").sign_response({"id": "u3", "label": "hateful"}, SENTIMENT_EXAMPLE)
    assert response["signed"]
