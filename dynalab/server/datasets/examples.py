"""What one line of a dataset file must hold, for a task: its ``uid``, inputs and gold targets.

A line is one JSON object: ``uid`` (a string, unique in the file), every input of the
task (its context and non-target input fields) and every gold target (the input fields
the model predicts). Values are checked by the task's own annotation types
(``dynalab.tasks.annotations``), the same checks a model's responses go through. A gold
target is one value of its field, except that a ``context_string_selection`` target
(``qa``'s ``answer``) may list several accepted answers, and a target scored by
``vqa_accuracy`` is the list of the annotators' answers.

``ExampleChecker(definition).problems(line)`` lists what is wrong with a line (as
``Issue``s: field, value, problem, fix); ``split(line)`` gives the form the server
stores, ``{"uid", "inputs", "targets"}``, so that what is sent to a model (the inputs)
is apart from what it is scored against.
"""

from dynalab.server.evaluation.metrics import scored_field
from dynalab.server.evaluation.scoring import metric_names
from dynalab.tasks import validation
from dynalab.tasks.annotations import check_value, describe
from dynalab.tasks.task_io import TaskIO
from dynalab.tasks.validation import ABSENT, Issue

MAX_UID_LENGTH = 200
# With fewer references, no answer can score 1: leaving one out must leave 3 that agree.
MIN_VQA_REFERENCES = 4

ONE, ONE_OR_LIST, REFERENCES = "one", "one or a list", "references"


def format_issue(number, issue):
    """One line of an error message: ``line 7: label = 'maybe': not one of ...; give one of ...``."""
    return f"line {number}: {validation.format_issue(issue)}"


class ExampleChecker:
    """The checks of dataset lines for one task."""

    def __init__(self, definition):
        task_io = TaskIO.from_definition(definition)
        self.task_code = task_io.task_code
        self.fields = task_io.fields
        self.input_names = task_io.input_names
        self.target_names = task_io.target_names
        self.keys = ["uid", *self.input_names, *self.target_names]
        vqa_field = scored_field("vqa_accuracy", task_io) if "vqa_accuracy" in metric_names(definition) else None
        self.gold_forms = {
            name: REFERENCES if name == vqa_field
            else ONE_OR_LIST if self.fields[name]["type"] == "context_string_selection" else ONE
            for name in self.target_names
        }

    def describe_line(self):
        """The keys of a line, in words: "uid, context, hypothesis and label"."""
        return ", ".join(self.keys[:-1]) + f" and {self.keys[-1]}"

    def problems(self, line):
        """The Issues of ``line`` (a parsed JSON value); [] when it is a valid example."""
        if not isinstance(line, dict):
            return [Issue("(line)", line, "not a JSON object", f"write one object a line, with {self.describe_line()}")]
        issues = self._uid_problems(line)
        for name in self.input_names:
            if name not in line:
                issues.append(Issue(name, ABSENT, "an input of the task", f"give {self._expected(name)}"))
            else:
                issues.extend(self._value_problems(name, line[name], line))
        for name in self.target_names:
            if name not in line:
                issues.append(Issue(name, ABSENT, "the gold answer", f"give {self._gold_expected(name)}"))
            else:
                issues.extend(self._gold_problems(name, line[name], line))
        for key in line:
            if key not in self.keys:
                fix = f"remove it: a line of task {self.task_code} holds {self.describe_line()}"
                issues.append(Issue(key, line[key], "not a field of the task", fix))
        return issues

    def split(self, line):
        """The stored form of the valid example ``line``: its uid, its inputs, its gold targets."""
        return {"uid": line["uid"],
                "inputs": {name: line[name] for name in self.input_names},
                "targets": {name: line[name] for name in self.target_names}}

    def _uid_problems(self, line):
        uid = line.get("uid")
        if "uid" not in line:
            return [Issue("uid", ABSENT, "every example has one", "give a uid unique in the file, e.g. \"uid\": \"dev-1\"")]
        if not isinstance(uid, str) or not uid or len(uid) > MAX_UID_LENGTH:
            fix = f"give a non-empty string of at most {MAX_UID_LENGTH} characters (quote numbers: \"17\")"
            return [Issue("uid", uid, "not a usable uid", fix)]
        return []

    def _expected(self, name):
        return describe(self.fields[name], self.fields)

    def _value_problems(self, name, value, line, where=None):
        if check_value(value, self.fields[name], self.fields, line):
            expected = self._expected(name)
            return [Issue(where or name, value, f"not {expected}", f"give {expected}")]
        return []

    def _gold_expected(self, name):
        form, expected = self.gold_forms[name], self._expected(name)
        if form == REFERENCES:
            return (f"the list of the annotators' answers, at least {MIN_VQA_REFERENCES} (VQA collects 10), "
                    f"each {expected}")
        if form == ONE_OR_LIST:
            return f"{expected}, or a list of accepted answers, each {expected}"
        return expected

    def _gold_problems(self, name, gold, line):
        form = self.gold_forms[name]
        if form == ONE or (form == ONE_OR_LIST and not isinstance(gold, list)):
            return self._value_problems(name, gold, line)
        expected = self._gold_expected(name)
        least = MIN_VQA_REFERENCES if form == REFERENCES else 1
        if not isinstance(gold, list) or len(gold) < least:
            return [Issue(name, gold, f"not {expected}" if not isinstance(gold, list) else
                          f"a list of {len(gold)} (at least {least} needed)", f"give {expected}")]
        return [issue for i, value in enumerate(gold)
                for issue in self._value_problems(name, value, line, where=f"{name}[{i}]")]
