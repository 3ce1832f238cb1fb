"""TaskIO: a task's inputs and outputs, as a model handler and Dynalab's tests see them.

Handlers written for Dynalab import ``TaskIO`` and ``ROOTPATH`` from here and call
``TaskIO(task).sign_response(response, example)``; the local and integrated tests
use the same object to make mock examples and to check each response. This module
runs next to the model, so it imports only the standard library.
"""

import copy
import json
import os
import uuid
from pathlib import Path

from dynalab.tasks import annotations, first_api_rules
from dynalab.tasks.annotations import MISSING, Problem, show
from dynalab.tasks.signatures import SECRET_ENV, Rules, signature_digest
from dynalab.tasks.registry import TASK_CODE_PATTERN, Issue, TaskDefinitionError, UnknownTask
from dynalab.tasks.registry import builtin_task_codes, load_builtin, load_task_file, validate_definition

__all__ = [
    "ROOTPATH",
    "Problem",
    "ResponseInvalid",
    "TaskDefinitionError",
    "TaskIO",
    "UnknownTask",
    "find_definition",
    "parse_response",
]

# Names shared with the processes that run a handler, defined here only (the
# runtime and the backends import them; the Dockerfile template repeats the first).
ROOTPATH_ENV = "DYNALAB_ROOTPATH"  # the project root, wherever it was unpacked
TASK_FILE_ENV = "DYNALAB_TASK_FILE"  # a task definition file TaskIO(code) looks in first
RESPONSE = "(response)"  # the Problem field of a response that is wrong as a whole


def rootpath():
    """Where the whole model project lives: DYNALAB_ROOTPATH, which Dynalab sets wherever it runs a
    handler (locally, in the sandbox, in the container), else the working directory."""
    return os.environ.get(ROOTPATH_ENV) or os.getcwd()


def __getattr__(name):
    # ``ROOTPATH`` is read, not stored: it is right whenever the module was first imported.
    if name == "ROOTPATH":
        return rootpath()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


SIGN_HINT = "call self.taskIO.sign_response(response, example) last, after setting every output field"


class ResponseInvalid(AssertionError):
    """Raised by ``TaskIO.verify_response`` when a response breaks the task's rules.

    ``problems`` lists each broken rule as a Problem; the message shows them all.
    """

    def __init__(self, problems, uid=None):
        self.problems = list(problems)
        about = f" to example {uid}" if uid is not None else ""
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"the response{about} is invalid ({len(self.problems)} problem(s)):\n{lines}")


def find_definition(task_code, task_info_path=None):
    """The definition of ``task_code``, from the first of these that has it:

    ``task_info_path`` if given; the file named by env DYNALAB_TASK_FILE if it
    defines this task; ``<ROOTPATH>/.dynalab/<code>.json``; ``./.dynalab/<code>.json``;
    the built-in definitions. Raises UnknownTask if none has it.
    """
    if task_info_path is not None:
        return _load_checked(task_info_path, task_code)
    env_path = os.environ.get(TASK_FILE_ENV)
    if env_path:
        definition = load_task_file(env_path)
        if definition["task"] == task_code:
            return definition
    if not isinstance(task_code, str) or not TASK_CODE_PATTERN.match(task_code):
        raise UnknownTask(task_code, builtin_task_codes())
    for directory in (rootpath(), os.getcwd()):
        path = Path(directory) / ".dynalab" / f"{task_code}.json"
        if path.is_file():
            return _load_checked(path, task_code)
    return load_builtin(task_code)


def _load_checked(path, task_code):
    definition = load_task_file(path)
    if definition["task"] != task_code:
        raise TaskDefinitionError(
            str(path),
            [
                Issue(
                    "task",
                    definition["task"],
                    f"this file defines another task than {task_code!r}",
                    f"pass the file of task {task_code!r}, or ask for TaskIO({definition['task']!r})",
                )
            ],
        )
    return definition


def parse_response(raw):
    """``(response dict, None)`` if ``raw`` is a dict or a JSON object in a string, else ``(None, Problem)``."""
    expected = "a dict (or a JSON object as a string)"
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as error:
            return None, Problem(RESPONSE, expected, show(raw), f"return a dict, or json.dumps() of one ({error})")
    if not isinstance(raw, dict):
        return None, Problem(RESPONSE, expected, show(raw), "return a list holding one response dict: [response]")
    return raw, None


class TaskIO:
    """The inputs and outputs of one task, with mock examples and response checks."""

    def __init__(self, task_code, task_info_path=None):
        """Find the definition of ``task_code`` (see ``find_definition``) and prepare mock examples."""
        self._setup(find_definition(task_code, task_info_path))

    @classmethod
    def from_definition(cls, definition, source="<task definition>"):
        """A TaskIO for an already loaded definition dict (validated here)."""
        task_io = cls.__new__(cls)
        task_io._setup(validate_definition(copy.deepcopy(definition), source))
        return task_io

    def _setup(self, definition):
        self.definition = definition
        self.task_code = definition["task"]
        config = definition["config"]
        self.fields = {obj["name"]: obj for obj in config["context"] + config["input"]}
        output_names = [obj["name"] for obj in config["output"]]
        # Targets: inputs the model must predict, so they are never sent to it.
        self.target_names = [obj["name"] for obj in config["input"] if obj["name"] in output_names]
        self.input_names = [name for name in self.fields if name not in self.target_names]
        # A bare output {name} takes the type of the context/input field of that name.
        self.output_fields = {obj["name"]: self.fields.get(obj["name"], obj) for obj in config["output"]}
        self.mock_datapoints = self._make_mock_datapoints()

    def __repr__(self):
        return f"TaskIO({self.task_code!r})"

    # ---- mock data ----

    def _make_mock_datapoints(self):
        """Examples covering every mock value of every input field, each with a fresh uid."""
        fields = [self.fields[name] for name in self.input_names]
        # A selection is cut from its example's own text, so it is made after the rest.
        plain = [field for field in fields if field["type"] != "context_string_selection"]
        mocks = {field["name"]: annotations.mock_values(field, self.fields) for field in plain}
        count = max((len(values) for values in mocks.values()), default=1)
        examples = []
        for i in range(count):
            values = {name: candidates[i % len(candidates)] for name, candidates in mocks.items()}
            for field in fields:
                if field["name"] not in values:
                    candidates = annotations.mock_values(field, self.fields, values)
                    values[field["name"]] = candidates[i % len(candidates)]
            example = {"uid": str(uuid.uuid4())}
            example.update((name, values[name]) for name in self.input_names)
            examples.append(example)
        return examples

    def get_mock_data(self):
        """A copy of the mock examples (``mock_datapoints``)."""
        return copy.deepcopy(self.mock_datapoints)

    def get_input_json(self):
        """A copy of the first mock example: what ``handle`` finds in ``data[0]["body"]``."""
        return copy.deepcopy(self.mock_datapoints[0])

    def get_sample_output(self, example=None):
        """A valid, signed response to ``example`` (default: the first mock example), every output set."""
        example = self.mock_datapoints[0] if example is None else example
        response = {"id": example.get("uid")}
        for name, field in self.output_fields.items():
            response[name] = annotations.mock_values(field, self.fields, example)[0]
        return self.sign_response(response, example)

    # ---- signatures ----

    def generate_response_signature(self, response, example, secret=""):
        """The signature of ``response`` to ``example``, as the original Dynalab computed it.

        See ``signature_digest``: the inputs are those present in the example,
        the outputs those present in the response.
        """
        inputs = {name: example[name] for name in self.input_names if name in example}
        outputs = {name: response[name] for name in self.output_fields if name in response}
        return signature_digest(self.task_code, inputs, outputs, secret)

    def sign_response(self, response, example):
        """Set ``response["signature"]`` and return ``response``; call it after setting every output."""
        response["signature"] = self.generate_response_signature(response, example)
        return response

    # ---- checks ----

    def check_response(self, response, example):
        """Every way ``response`` (a dict or JSON string) breaks the task's rules, as Problems; [] if valid.

        Checks: ``id`` equals the example's ``uid``; every target is present; no
        unknown field; each present field has its type's form; the signature matches.
        A response signed in ``signed`` (and not ``signature``) was made with the
        original Dynalab's first API and is checked with its rules (see
        ``dynalab.tasks.first_api``): the response alone says which rules apply,
        so every process that judges it (the local runner, the HTTP probe, a
        server) decides the same way.
        """
        response, problem = parse_response(response)
        if problem:
            return [problem]
        if first_api_rules.is_first_api_response(response):
            rules = first_api_rules.rules(self.task_code)
            if rules is None:
                return [first_api_rules.not_a_first_api_task(self.task_code, response)]
        else:
            rules = CURRENT_RULES
        return self.check_with_rules(response, example, rules)

    def check_with_rules(self, response, example, rules):
        """The Problems of the response dict ``response`` under ``rules`` (a Rules)."""
        problems = []
        uid = example.get("uid")
        if "id" not in response or response["id"] != uid:
            got = show(response["id"]) if "id" in response else MISSING
            hint = "set response['id'] = example['uid'] for the example you got"
            problems.append(Problem("id", show(uid), got, hint))
        for name in self.target_names:
            if name not in response:
                expected = annotations.describe(self.output_fields[name], self.fields)
                problems.append(Problem(name, expected, MISSING, f"set response[{name!r}] to {expected}, then sign"))
        allowed = ["id", *self.output_fields, rules.signature_field]
        for name, value in response.items():
            if name not in allowed:
                hint = f"remove it: a response of task {self.task_code} holds only {', '.join(allowed)}"
                problems.append(Problem(name, "no field of this name", show(value), hint))
            elif name in self.output_fields:
                field = self.output_fields[name]
                problems.extend(annotations.check_value(value, field, self.fields, example, rules.normalised))
            problems.extend(_json_problems(name, value))
        problems.extend(self._signature_problems(response, example, rules))
        return problems

    def _signature_problems(self, response, example, rules):
        field = rules.signature_field
        if field not in response:
            return [Problem(field, "the response's signature", MISSING, SIGN_HINT)]
        expected = rules.sign(self, response, example)
        if response[field] != expected:
            hint = SIGN_HINT + f" (a changed field, another example, or another {SECRET_ENV} breaks it)"
            return [Problem(field, show(expected), show(response[field]), hint)]
        return []

    def verify_response(self, response, example):
        """Return the response as a dict if valid; else raise ResponseInvalid listing its problems."""
        problems = self.check_response(response, example)
        if problems:
            raise ResponseInvalid(problems, example.get("uid"))
        return parse_response(response)[0]


# The rules of today's API: ``sign_response`` sets ``signature`` over every output.
CURRENT_RULES = Rules("signature", TaskIO.generate_response_signature, True)


def _json_problems(name, value):
    # Responses travel as JSON: a tensor or numpy value would break the server, not just a check.
    try:
        json.dumps(value)
    except (TypeError, ValueError) as error:
        hint = f"convert it to plain Python values (e.g. tensor.item(), array.tolist()): {error}"
        return [Problem(name, "a JSON-serialisable value", show(value), hint)]
    return []
