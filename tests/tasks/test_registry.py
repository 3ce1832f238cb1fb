import copy
import json

import pytest

from dynalab.tasks.annotations import MOCK_STRINGS
from dynalab.tasks.registry import (
    TaskDefinitionError,
    UnknownTask,
    builtin_task_codes,
    load_builtin,
    load_task_file,
    validate_definition,
)
from dynalab.tasks.task_io import TaskIO

CUSTOM_YAML = """\
task: topics
name: Topic tagging
config:
  context:
    - {name: passage, type: string}
  input:
    - {name: topics, type: multilabel, labels: [sports, politics, 'yes']}
    - {name: evidence, type: context_string_selection, reference_name: passage}
  output:
    - {name: topics}
    - {name: evidence}
    - {name: scores, type: prob, reference_name: topics}
"""

VALID = {
    "task": "nli",
    "config": {
        "context": [{"name": "context", "type": "string"}],
        "input": [
            {"name": "hypothesis", "type": "string"},
            {"name": "label", "type": "multiclass", "labels": ["entailed", "neutral", "contradictory"]},
        ],
        "output": [{"name": "label"}, {"name": "prob", "type": "prob", "reference_name": "label"}],
    },
}


BUILTIN = ["flores_full", "flores_small1", "flores_small2", "hs", "nli", "qa", "sentiment", "vqa"]


def test_builtin_tasks_are_the_ones_users_know():
    assert builtin_task_codes() == BUILTIN


@pytest.mark.parametrize("code", BUILTIN)
def test_builtin_definitions_are_valid(code):
    definition = load_builtin(code)
    assert definition["task"] == code
    assert definition["name"] and definition["description"]
    assert validate_definition(definition, code) is definition


def test_builtin_labels_are_the_documented_ones():
    assert load_builtin("nli")["config"]["input"][1]["labels"] == ["entailed", "neutral", "contradictory"]
    assert load_builtin("sentiment")["config"]["input"][1]["labels"] == ["positive", "negative", "neutral"]
    assert load_builtin("hs")["config"]["input"][1]["labels"] == ["hateful", "not-hateful"]


def test_load_builtin_returns_a_fresh_copy():
    load_builtin("nli")["config"]["output"].clear()
    assert load_builtin("nli")["config"]["output"]


def test_unknown_builtin_names_the_known_codes():
    with pytest.raises(UnknownTask, match="known tasks: " + ", ".join(BUILTIN)):
        load_builtin("nope")


def test_custom_yaml_task_file(tmp_path):
    path = tmp_path / "topics.yaml"
    path.write_text(CUSTOM_YAML)
    definition = load_task_file(path)
    assert definition["task"] == "topics"
    assert definition["config"]["input"][0]["labels"] == ["sports", "politics", "yes"]


def test_custom_json_task_file(tmp_path):
    path = tmp_path / "nli.json"
    path.write_text(json.dumps(VALID))
    assert load_task_file(path) == VALID


def test_errors_name_the_file_the_field_the_value_and_the_fix(tmp_path):
    path = tmp_path / "task.yaml"
    path.write_text(CUSTOM_YAML.replace("reference_name: topics", "reference_name: topic"))
    with pytest.raises(TaskDefinitionError) as caught:
        load_task_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: config.output[2].reference_name = 'topic': ")
    assert "set it to the name of a multiclass or multilabel field (here: topics)" in message
    (issue,) = caught.value.issues
    assert (issue.path, issue.value) == ("config.output[2].reference_name", "topic")


def test_yaml_booleans_as_labels_are_explained(tmp_path):
    path = tmp_path / "task.yaml"
    path.write_text(CUSTOM_YAML.replace("'yes'", "yes"))
    with pytest.raises(TaskDefinitionError, match=r"config.input\[0\].labels\[2\] = True: .*quote it in YAML"):
        load_task_file(path)


def test_syntax_errors_name_the_line(tmp_path):
    yaml_path, json_path = tmp_path / "task.yaml", tmp_path / "task.json"
    yaml_path.write_text("task: x\nconfig: [unclosed\n")
    json_path.write_text('{"task": "x",\n "config": }')
    with pytest.raises(TaskDefinitionError, match=r"task.yaml: not valid YAML \(line \d+"):
        load_task_file(yaml_path)
    with pytest.raises(TaskDefinitionError, match=r"task.json: not valid JSON \(line 2, column 12"):
        load_task_file(json_path)


def _broken(change):
    definition = copy.deepcopy(VALID)
    change(definition, definition["config"])
    return definition


def _set(target, key, value):
    target[key] = value


INPUT, OUTPUT, CONTEXT = "input", "output", "context"


@pytest.mark.parametrize(
    "change, path, words",
    [
        (lambda d, c: d.pop("task"), "task", "missing"),
        (lambda d, c: _set(d, "task", "../etc"), "task", "not a valid task code"),
        (lambda d, c: _set(d, "config", []), "config", "must be a mapping"),
        (lambda d, c: c.pop(CONTEXT), "config.context", "`[]` if there is none"),
        (lambda d, c: _set(c, OUTPUT, []), "config.output", "at least one output"),
        (lambda d, c: _set(c[INPUT][0], "type", "text"), "config.input[0].type", "use one of: string, image"),
        (lambda d, c: c[INPUT][0].pop("name"), "config.input[0].name", "needs a name"),
        (lambda d, c: _set(c[INPUT][0], "name", "context"), "config.input[0].name", "used twice"),
        (lambda d, c: _set(c[INPUT][0], "name", "uid"), "config.input[0].name", "reserved"),
        (lambda d, c: c[INPUT][1].pop("labels"), "config.input[1].labels", "non-empty list of labels"),
        (lambda d, c: _set(c[INPUT][1], "labels", []), "config.input[1].labels", "non-empty list of labels"),
        (lambda d, c: c[INPUT][1]["labels"].append("neutral"), "config.input[1].labels[3]", "listed twice"),
        (lambda d, c: _set(c[OUTPUT][1], "reference_name", "lable"), "config.output[1].reference_name", "no context/input field"),
        (lambda d, c: _set(c[OUTPUT][1], "reference_name", "hypothesis"), "config.output[1].reference_name", "multiclass or multilabel"),
        (lambda d, c: c[OUTPUT][1].pop("reference_name"), "config.output[1].reference_name", "single_prob: true"),
        (lambda d, c: _set(c[OUTPUT][1], "single_prob", "yes"), "config.output[1].single_prob", "true or false"),
        (lambda d, c: _set(c[OUTPUT][1], "single_prob", True), "config.output[1].reference_name", "conflicts"),
        (lambda d, c: c[OUTPUT][1].pop("type"), "config.output[1].type", "not a context/input field"),
        (lambda d, c: _set(c[OUTPUT][0], "type", "string"), "config.output[0].type", "differs from the type"),
        (lambda d, c: c[OUTPUT].append({"name": "label"}), "config.output[2].name", "listed twice"),
        (lambda d, c: c[OUTPUT].append("label"), "config.output[2]", "must be an object"),
        (
            lambda d, c: c[OUTPUT].append({"name": "span", "type": "context_string_selection", "reference_name": "label"}),
            "config.output[2].reference_name",
            "a string field of the context or a non-target input",
        ),
    ],
)
def test_each_defect_is_reported_on_its_field(change, path, words):
    with pytest.raises(TaskDefinitionError) as caught:
        validate_definition(_broken(change), "my_task.yaml")
    assert [issue.path for issue in caught.value.issues] == [path]
    assert str(caught.value).startswith(f"my_task.yaml: {path}")
    assert words in str(caught.value)


def test_a_selection_cannot_point_at_a_target():
    definition = load_builtin("qa")
    definition["config"]["output"].append({"name": "question"})  # makes `question` a target
    definition["config"]["output"].append(
        {"name": "span", "type": "context_string_selection", "reference_name": "question"}
    )
    with pytest.raises(TaskDefinitionError, match=r"config.output\[3\].reference_name = 'question'"):
        validate_definition(definition, "qa.yaml")


def test_every_defect_is_listed_at_once():
    definition = _broken(lambda d, c: (_set(c[INPUT][0], "type", "text"), _set(c[OUTPUT][1], "reference_name", "x")))
    with pytest.raises(TaskDefinitionError) as caught:
        validate_definition(definition, "two.yaml")
    assert str(caught.value).startswith("two.yaml: 2 problems in the task definition:\n  - config.input[0].type")
    assert len(caught.value.issues) == 2


def test_a_non_mapping_is_rejected():
    with pytest.raises(TaskDefinitionError, match=r"x.json: \(top level\) = \['nli'\]: a task definition must be a mapping"):
        validate_definition(["nli"], "x.json")


def test_it_is_a_value_error():
    assert issubclass(TaskDefinitionError, ValueError)
    assert issubclass(UnknownTask, LookupError)


# ---- metrics: how the evaluation server scores a task ----


def test_every_builtin_task_names_its_metrics():
    metrics = {code: load_builtin(code)["metrics"] for code in BUILTIN}
    classification = {"main": "accuracy", "others": ["macro_f1"]}
    translation = {"main": "bleu"}
    assert metrics == {
        "nli": classification, "sentiment": classification, "hs": classification,
        "qa": {"main": "squad_f1", "others": ["exact_match"]},
        "vqa": {"main": "vqa_accuracy"},
        "flores_small1": translation, "flores_small2": translation, "flores_full": translation,
    }


KNOWN_METRICS = "use one of: accuracy, macro_f1, exact_match, squad_f1, vqa_accuracy, bleu"


@pytest.mark.parametrize(
    "metrics, line",
    [
        ("bleu", "metrics = 'bleu': must be a mapping; write `metrics: {main: <name>, others: [<name>, ...]}`"),
        ({"main": "rouge"}, f"metrics.main = 'rouge': unknown metric; {KNOWN_METRICS}"),
        ({"others": ["macro_f1"]}, "metrics.main is missing: names the metric that ranks the models; add `main: <name>`"),
        ({"main": "accuracy", "others": "macro_f1"}, "metrics.others = 'macro_f1': must be a list; write `others: [<name>, ...]`"),
        ({"main": "accuracy", "others": ["f1"]}, f"metrics.others[0] = 'f1': unknown metric; {KNOWN_METRICS}"),
        ({"main": "accuracy", "others": ["accuracy"]}, "metrics.others[0] = 'accuracy': is already the main metric; drop it from `others`"),
        ({"main": "bleu", "others": ["accuracy", "accuracy"]}, "metrics.others[1] = 'accuracy': listed twice; list each metric once"),
        ({"main": "accuracy", "weight": 2}, "metrics.weight = 2: unknown key; use only `main` and `others`"),
    ],
)
def test_a_bad_metrics_block_names_the_value_and_the_fix(metrics, line):
    with pytest.raises(TaskDefinitionError) as caught:
        validate_definition({**copy.deepcopy(VALID), "metrics": metrics}, "my_task.yaml")
    assert str(caught.value).startswith(f"my_task.yaml: {line}")


def test_metrics_are_optional():
    assert "metrics" not in VALID
    assert validate_definition(copy.deepcopy(VALID), "x")["task"] == "nli"


# ---- mock_values: what the tests send for a field ----


def test_mock_values_replace_a_fields_default_mocks():
    definition = copy.deepcopy(VALID)
    definition["config"]["input"][0]["mock_values"] = ["Nobody sleeps.", "A man sleeps."]
    examples = TaskIO.from_definition(definition).mock_datapoints
    # Three of the context's default mocks; the hypothesis cycles through its own two.
    assert [e["hypothesis"] for e in examples] == ["Nobody sleeps.", "A man sleeps.", "Nobody sleeps."]


@pytest.mark.parametrize(
    "field, values, line",
    [
        (0, "eng", "config.input[0].mock_values = 'eng': must be a non-empty list"),
        (0, [], "config.input[0].mock_values = []: must be a non-empty list"),
        (0, ["fine", 3], "config.input[0].mock_values[1] = 3: not a string; give a string (quote it in YAML)"),
        (1, ["neutral"], "config.input[1].mock_values = ['neutral']: a target is never sent to the model; drop `mock_values` here"),
    ],
)
def test_bad_mock_values_are_named(field, values, line):
    definition = copy.deepcopy(VALID)
    definition["config"]["input"][field]["mock_values"] = values
    with pytest.raises(TaskDefinitionError) as caught:
        validate_definition(definition, "my_task.yaml")
    assert str(caught.value).startswith(f"my_task.yaml: {line}")


# ---- machine translation ----


@pytest.mark.parametrize("code", ["flores_small1", "flores_small2", "flores_full"])
def test_translation_tasks_send_language_codes_and_expect_a_translation(code):
    taskio = TaskIO.from_definition(load_builtin(code))
    assert taskio.input_names == ["sourceLanguage", "targetLanguage", "sourceText"]
    assert taskio.target_names == ["translatedText"] and list(taskio.output_fields) == ["translatedText"]
    pairs = [(e["sourceLanguage"], e["targetLanguage"]) for e in taskio.mock_datapoints]
    assert all(len(s) == 3 and len(t) == 3 and s != t for s, t in pairs), pairs
    assert {e["sourceText"] for e in taskio.mock_datapoints} == set(MOCK_STRINGS)
