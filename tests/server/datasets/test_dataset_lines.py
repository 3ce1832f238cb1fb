"""What a dataset line must hold, task by task: checked with the task's own annotation types."""

import copy

import pytest
from dataset_support import EXAMPLES

from dynalab.server.datasets.examples import ExampleChecker, format_issue
from dynalab.tasks.registry import builtin_task_codes, load_builtin


def problems(code, line):
    return [format_issue(1, issue) for issue in ExampleChecker(load_builtin(code)).problems(line)]


def changed(code, **fields):
    line = copy.deepcopy(EXAMPLES[code])
    line.update(fields)
    return line


@pytest.mark.parametrize("code", builtin_task_codes())
def test_a_line_with_the_uid_inputs_and_gold_targets_of_the_task_is_valid(code):
    assert problems(code, EXAMPLES[code]) == []


def test_the_stored_form_keeps_the_inputs_apart_from_the_targets():
    checker = ExampleChecker(load_builtin("nli"))
    assert checker.split(EXAMPLES["nli"]) == {
        "uid": "nli-1",
        "inputs": {"context": "A man is playing guitar.", "hypothesis": "A man makes music."},
        "targets": {"label": "entailed"},
    }


def test_a_label_outside_the_task_s_labels_names_them():
    assert problems("nli", changed("nli", label="maybe")) == [
        "line 1: label = 'maybe': not one of entailed, neutral, contradictory; "
        "give one of entailed, neutral, contradictory"]


def test_missing_and_unknown_fields_and_bad_uids():
    line = changed("nli", uid=7, extra="x")
    del line["hypothesis"], line["label"]
    assert problems("nli", line) == [
        "line 1: uid = 7: not a usable uid; give a non-empty string of at most 200 characters (quote numbers: \"17\")",
        "line 1: hypothesis is missing: an input of the task; give a string",
        "line 1: label is missing: the gold answer; give one of entailed, neutral, contradictory",
        "line 1: extra = 'x': not a field of the task; remove it: a line of task nli holds uid, context, "
        "hypothesis and label",
    ]
    assert problems("nli", ["not", "an", "object"])[0].startswith("line 1: (line) = ['not', 'an', 'object']: "
                                                                 "not a JSON object")
    assert "not a usable uid" in problems("nli", changed("nli", uid="x" * 201))[0]


def test_a_qa_answer_is_one_substring_of_the_context_or_a_list_of_them():
    assert problems("qa", changed("qa", answer="Santa Clara")) == []
    assert problems("qa", changed("qa", answer="San Francisco")) == [
        "line 1: answer = 'San Francisco': not a substring of context; give a substring of context"]
    assert problems("qa", changed("qa", answer=["Santa Clara", "levi's stadium"])) == [
        "line 1: answer[1] = \"levi's stadium\": not a substring of context; give a substring of context"]
    assert "a list of 0 (at least 1 needed)" in problems("qa", changed("qa", answer=[]))[0]


def test_a_vqa_answer_is_the_list_of_the_annotators_answers():
    assert "not the list of the annotators' answers" in problems("vqa", changed("vqa", answer="2"))[0]
    # With fewer than four, no answer could score 1 (leaving one out must leave three).
    assert "a list of 3 (at least 4 needed)" in problems("vqa", changed("vqa", answer=["2", "2", "2"]))[0]
    assert problems("vqa", changed("vqa", answer=["2", "2", "2", 2])) == [
        "line 1: answer[3] = 2: not a string; give a string"]


def test_an_input_of_the_wrong_type_is_named():
    assert problems("flores_small1", changed("flores_small1", sourceText=["Good", "morning"])) == [
        "line 1: sourceText = ['Good', 'morning']: not a string; give a string"]
    assert problems("vqa", changed("vqa", image={"png": "..."})) == [
        "line 1: image = {'png': '...'}: not a base64-encoded image (a string); "
        "give a base64-encoded image (a string)"]
