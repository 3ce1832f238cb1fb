"""Scoring one evaluation: the task's own metrics, every example of the dataset counted."""

import math

import pytest
import yaml

from dynalab.server.evaluation import metric_names, score
from dynalab.server.evaluation.metrics import metric_problems
from dynalab.server.task_catalog import TaskCatalog, TaskCatalogError
from dynalab.tasks.registry import builtin_task_codes, load_builtin


@pytest.mark.parametrize("code, names", [
    ("nli", ["accuracy", "macro_f1"]), ("sentiment", ["accuracy", "macro_f1"]), ("hs", ["accuracy", "macro_f1"]),
    ("qa", ["squad_f1", "exact_match"]), ("vqa", ["vqa_accuracy"]),
    ("flores_small1", ["bleu"]), ("flores_small2", ["bleu"]), ("flores_full", ["bleu"]),
])
def test_each_task_is_scored_by_the_metrics_its_definition_names(code, names):
    assert metric_names(load_builtin(code)) == names


def test_a_task_naming_no_metrics_gets_none():
    definition = load_builtin("nli")
    del definition["metrics"]
    assert metric_names(definition) == []
    assert score(definition, {}, {"a": {"label": "neutral"}}) == {}


def test_score_counts_every_example_of_the_dataset_and_ignores_unknown_uids():
    targets = {"a": {"label": "entailed"}, "b": {"label": "neutral"}, "c": {"label": "neutral"}, "d": {"label": "neutral"}}
    responses = {
        "a": {"id": "a", "label": "entailed", "prob": {"entailed": 1.0, "neutral": 0.0, "contradictory": 0.0}},
        "b": {"id": "b", "label": "neutral"},
        "c": {"id": "c", "label": "contradictory"},
        # "d" got no response: it counts as wrong. "z" is not in the dataset: ignored.
        "z": {"id": "z", "label": "neutral"},
    }
    scores = score(load_builtin("nli"), responses, targets)
    assert scores.keys() == {"accuracy", "macro_f1"}
    assert scores["accuracy"] == 0.5
    # entailed: F1 1. neutral: TP 1, FN 2 -> 2/(2+0+2) = 0.5. contradictory: FP 1 -> 0. Mean 0.5.
    assert math.isclose(scores["macro_f1"], 0.5)


def test_score_of_a_qa_dataset_with_several_accepted_answers():
    targets = {"1": {"answer": ["Denver Broncos", "Broncos"]}, "2": {"answer": "Santa Clara"}}
    responses = {"1": {"answer": "Broncos", "conf": 0.9}, "2": {"answer": "Levi's Stadium", "conf": 0.1}}
    assert score(load_builtin("qa"), responses, targets) == {"squad_f1": 0.5, "exact_match": 0.5}


def test_a_label_spelt_like_the_missing_prediction_marker_is_still_a_label():
    definition = load_builtin("nli")
    definition["config"]["input"][1]["labels"] = ["(no prediction)", "yes"]
    targets = {"a": {"label": "(no prediction)"}, "b": {"label": "yes"}}
    assert score(definition, {"a": {"label": "(no prediction)"}}, targets)["accuracy"] == 0.5


@pytest.mark.parametrize("code", builtin_task_codes())
def test_the_built_in_tasks_name_metrics_that_fit_their_targets(code):
    assert metric_problems(load_builtin(code)) == []


def test_a_task_file_naming_a_metric_its_targets_cannot_have_is_refused(tmp_path):
    definition = load_builtin("nli")
    definition.update(task="nli_bleu", metrics={"main": "bleu"})
    (tmp_path / "nli_bleu.yaml").write_text(yaml.safe_dump(definition))
    with pytest.raises(TaskCatalogError, match="bleu scores a string target and task nli_bleu has none"):
        TaskCatalog(tmp_path)
