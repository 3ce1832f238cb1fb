"""Checking a task definition: every defect found, each with where, what and the fix.

Standard library only, like the rest of ``dynalab.tasks``: this runs next to
the model too. ``dynalab.tasks.registry`` re-exports the public names.
"""

import re
from collections import namedtuple

from dynalab.tasks.annotations import TYPES, check_value, describe, show

# Task codes name files (``.dynalab/<code>.json``), so they stay filename-safe.
TASK_CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

# Keys every example or response already uses for bookkeeping.
RESERVED_NAMES = ("uid", "id", "signature")

SECTIONS = ("context", "input", "output")

# The scores an evaluation server computes; a definition's ``metrics`` names them.
METRICS = ("accuracy", "macro_f1", "exact_match", "squad_f1", "vqa_accuracy", "bleu")

_ABSENT = object()
ABSENT = _ABSENT  # an Issue's value when the thing is missing (other checkers make Issues too)


Issue = namedtuple("Issue", "path value problem fix")
Issue.__doc__ = "One defect of a definition: where (``config.output[1].name``), the bad value, what is wrong, the fix."


class TaskDefinitionError(ValueError):
    """Raised when a task definition file cannot be read or is malformed.

    The message names the source file and, for each defect, the field path,
    the bad value and how to fix it; ``issues`` holds them one by one.
    """

    def __init__(self, source, issues):
        self.source = source
        self.issues = list(issues)
        lines = [format_issue(issue) for issue in self.issues]
        if len(lines) == 1:
            message = f"{source}: {lines[0]}"
        else:
            message = f"{source}: {len(lines)} problems in the task definition:\n" + "\n".join(
                f"  - {line}" for line in lines
            )
        super().__init__(message)


def format_issue(issue):
    """One defect in a line: ``path = value: problem; fix``, or ``path is missing: problem; fix``."""
    if issue.path is None:
        where = ""
    elif issue.value is _ABSENT:
        where = f"{issue.path} is missing: "
    else:
        where = f"{issue.path} = {show(issue.value)}: "
    return f"{where}{issue.problem}; {issue.fix}"


def validate_definition(defn, source="<task definition>"):
    """Check ``defn`` is a well-formed task definition and return it unchanged.

    Checks: the task code, the three config lists, each object's name (present,
    unique, not reserved) and type, the keys each type needs (``labels``,
    ``reference_name``, ``single_prob``), that references point at a suitable
    object, that every output names a field or defines one, the optional
    ``metrics`` block and ``mock_values`` lists. Raises TaskDefinitionError
    listing every defect found.
    """
    issues = []
    if not isinstance(defn, dict):
        fix = "write a mapping: {task: <code>, config: {context: [...], input: [...], output: [...]}}"
        raise TaskDefinitionError(source, [Issue("(top level)", defn, "a task definition must be a mapping", fix)])

    code = defn.get("task", _ABSENT)
    if code is _ABSENT:
        issues.append(Issue("task", _ABSENT, "every definition names its task code", "add `task: <code>`"))
    elif not isinstance(code, str) or not TASK_CODE_PATTERN.match(code):
        issues.append(Issue("task", code, "not a valid task code", "use letters, digits, '_' and '-' only"))
    for key in ("name", "description"):
        if key in defn and not isinstance(defn[key], str):
            issues.append(Issue(key, defn[key], "must be text", f"write `{key}` as a string"))
    if "metrics" in defn:
        _check_metrics(defn["metrics"], issues)
    if "limits" in defn:
        _check_limits(defn, issues)

    config = defn.get("config", _ABSENT)
    if not isinstance(config, dict):
        fix = "add `config:` with the lists `context`, `input` and `output`"
        issues.append(Issue("config", config, "must be a mapping", fix))
        raise TaskDefinitionError(source, issues)

    sections = {}
    for section in SECTIONS:
        value = config.get(section, _ABSENT)
        if not isinstance(value, list):
            empty_ok = " (`[]` if there is none)" if section != "output" else ""
            issues.append(Issue(f"config.{section}", value, "must be a list", f"write a list of objects{empty_ok}"))
            value = []
        sections[section] = [(f"config.{section}[{i}]", obj) for i, obj in enumerate(value)]
    if isinstance(config.get("output"), list) and not config["output"]:
        issues.append(Issue("config.output", [], "a task needs at least one output", "add the fields models return"))

    by_name = _collect_fields(sections["context"] + sections["input"], issues)
    output_names = _collect_output_names(sections["output"], issues)
    input_names = {obj["name"] for _, obj in sections["input"] if isinstance(obj, dict) and "name" in obj}
    targets = input_names & output_names
    for path, obj in sections["context"] + sections["input"]:
        if isinstance(obj, dict) and obj.get("type") in TYPES:
            _check_type_keys(obj, path, by_name, targets, issues)
    for path, obj in sections["output"]:
        if isinstance(obj, dict) and isinstance(obj.get("name"), str):
            _check_output(obj, path, by_name, targets, issues)
    if not issues:  # the values are checked against their field, so the fields must be sound first
        for path, obj in sections["context"] + sections["input"]:
            if "mock_values" in obj:
                _check_mock_values(obj, path, by_name, targets, issues)

    if issues:
        raise TaskDefinitionError(source, issues)
    return defn


def _check_limits(defn, issues):
    """``limits``: the fields and values ``dynalab.tasks.limits`` accepts."""
    from dynalab.tasks.limits import LimitsError, limits_of

    try:
        limits_of(defn)
    except LimitsError as error:
        path = f"limits.{error.field}" if error.field else "limits"
        issues.append(Issue(path, error.value, "not a valid limit", f"use {error.expected}"))


def _check_metrics(metrics, issues):
    """``metrics: {main: <name>, others: [<name>, ...]}``, every name one of METRICS."""
    known = ", ".join(METRICS)
    if not isinstance(metrics, dict):
        fix = f"write `metrics: {{main: <name>, others: [<name>, ...]}}` with names from: {known}"
        issues.append(Issue("metrics", metrics, "must be a mapping", fix))
        return
    for key in metrics:
        if key not in ("main", "others"):
            issues.append(Issue(f"metrics.{key}", metrics[key], "unknown key", "use only `main` and `others`"))
    main = metrics.get("main", _ABSENT)
    if main is _ABSENT:
        problem = "names the metric that ranks the models"
        issues.append(Issue("metrics.main", _ABSENT, problem, f"add `main: <name>` with one of: {known}"))
    elif main not in METRICS:
        issues.append(Issue("metrics.main", main, "unknown metric", f"use one of: {known}"))
    others = metrics.get("others", [])
    if not isinstance(others, list):
        issues.append(Issue("metrics.others", others, "must be a list", f"write `others: [<name>, ...]` with names from: {known}"))
        return
    for i, name in enumerate(others):
        path = f"metrics.others[{i}]"
        if name not in METRICS:
            issues.append(Issue(path, name, "unknown metric", f"use one of: {known}"))
        elif name == main:
            issues.append(Issue(path, name, "is already the main metric", "drop it from `others`"))
        elif others.index(name) != i:
            issues.append(Issue(path, name, "listed twice", "list each metric once"))


def _check_mock_values(obj, path, by_name, targets, issues):
    """``mock_values``: the values the tests send for a field instead of its type's defaults."""
    values = obj["mock_values"]
    where = f"{path}.mock_values"
    if obj["name"] in targets:
        issues.append(Issue(where, values, "a target is never sent to the model", "drop `mock_values` here"))
    elif obj["type"] == "context_string_selection":
        problem = "a selection's mock values are cut from the field it refers to"
        issues.append(Issue(where, values, problem, "drop `mock_values` here"))
    elif not isinstance(values, list) or not values:
        fix = "list the values the tests send for this field, e.g. `mock_values: [eng, hrv]`"
        issues.append(Issue(where, values, "must be a non-empty list", fix))
    else:
        for i, value in enumerate(values):
            if check_value(value, obj, by_name, {}):
                expected = describe(obj, by_name)
                issues.append(Issue(f"{where}[{i}]", value, f"not {expected}", f"give {expected} (quote it in YAML)"))


def _check_name(obj, path, issues):
    """The object's name if it is a usable one, else None (after recording why)."""
    if not isinstance(obj, dict):
        issues.append(Issue(path, obj, "must be an object", "write {name: <field name>, type: <type>, ...}"))
        return None
    name = obj.get("name", _ABSENT)
    if not isinstance(name, str) or not name:
        issues.append(Issue(f"{path}.name", name, "every object needs a name", "give it a non-empty `name`"))
        return None
    if name in RESERVED_NAMES:
        fix = f"rename it: {', '.join(RESERVED_NAMES)} are set by Dynalab"
        issues.append(Issue(f"{path}.name", name, "reserved name", fix))
        return None
    return name


def _collect_fields(entries, issues):
    """{name: object} of the context and input objects, recording bad or duplicate names and types."""
    by_name = {}
    for path, obj in entries:
        name = _check_name(obj, path, issues)
        if name is None:
            continue
        if name in by_name:
            fix = "give each field its own name"
            issues.append(Issue(f"{path}.name", name, "used twice in context and input", fix))
            continue
        kind = obj.get("type", _ABSENT)
        if kind not in TYPES:
            issues.append(Issue(f"{path}.type", kind, "unknown type", f"use one of: {', '.join(TYPES)}"))
        by_name[name] = obj
    return by_name


def _collect_output_names(entries, issues):
    names = set()
    for path, obj in entries:
        name = _check_name(obj, path, issues)
        if name is None:
            continue
        if name in names:
            issues.append(Issue(f"{path}.name", name, "listed twice in output", "list each output once"))
        names.add(name)
    return names


def _check_output(obj, path, by_name, targets, issues):
    """An output either names a context/input object (a bare ``{name}``) or defines a new field."""
    field = by_name.get(obj["name"])
    kind = obj.get("type", _ABSENT)
    if field is not None:
        if kind is not _ABSENT and kind != field.get("type"):
            fix = f"drop `type` (the output takes the type of {obj['name']!r}) or make it {field.get('type')!r}"
            issues.append(Issue(f"{path}.type", kind, f"differs from the type of the field {obj['name']!r}", fix))
        return
    if kind is _ABSENT:
        known = ", ".join(by_name) or "none"
        fix = f"give it a `type`, or use the name of a context/input field (known: {known})"
        issues.append(Issue(f"{path}.type", _ABSENT, f"{obj['name']!r} is not a context/input field", fix))
    elif kind not in TYPES:
        issues.append(Issue(f"{path}.type", kind, "unknown type", f"use one of: {', '.join(TYPES)}"))
    else:
        _check_type_keys(obj, path, by_name, targets, issues)


def _check_type_keys(obj, path, by_name, targets, issues):
    """The keys each annotation type needs, and where its ``reference_name`` may point."""
    kind = obj["type"]
    if kind in ("multiclass", "multilabel"):
        _check_labels(obj, path, issues)
    elif kind == "context_string_selection":
        # The selection is checked against the example, so the referenced field must be sent to the model.
        _check_reference(
            obj, path, by_name, issues,
            accept=lambda name, field: field.get("type") == "string" and name not in targets,
            wanted="a string field of the context or a non-target input",
        )
    elif kind == "prob":
        single = obj.get("single_prob", False)
        if not isinstance(single, bool):
            issues.append(Issue(f"{path}.single_prob", single, "must be true or false", "write `single_prob: true`"))
        elif single and "reference_name" in obj:
            fix = "drop `reference_name` for one probability, or drop `single_prob` for one per label"
            reference = obj["reference_name"]
            issues.append(Issue(f"{path}.reference_name", reference, "conflicts with single_prob: true", fix))
        elif not single:
            _check_reference(
                obj, path, by_name, issues,
                accept=lambda name, field: field.get("type") in ("multiclass", "multilabel"),
                wanted="a multiclass or multilabel field",
                extra_fix=" for one probability per label, or set `single_prob: true` for a single one",
            )


def _check_labels(obj, path, issues):
    labels = obj.get("labels", _ABSENT)
    fix = "list the labels, e.g. `labels: [positive, negative]`"
    if not isinstance(labels, list) or not labels:
        issues.append(Issue(f"{path}.labels", labels, f"a {obj['type']} field needs a non-empty list of labels", fix))
        return
    for i, label in enumerate(labels):
        if not isinstance(label, str) or not label:
            # YAML reads yes/no/on/off/1 as booleans or numbers.
            fix = "write it as text; quote it in YAML, e.g. 'yes'"
            issues.append(Issue(f"{path}.labels[{i}]", label, "labels must be non-empty text", fix))
        elif labels.index(label) != i:
            issues.append(Issue(f"{path}.labels[{i}]", label, "listed twice", "list each label once"))


def _check_reference(obj, path, by_name, issues, accept, wanted, extra_fix=""):
    reference = obj.get("reference_name", _ABSENT)
    suitable = [name for name, field in by_name.items() if accept(name, field)]
    fix = f"set it to the name of {wanted} (here: {', '.join(suitable) or 'none'}){extra_fix}"
    if reference is _ABSENT:
        problem = f"a {obj['type']} field names the field it refers to"
        issues.append(Issue(f"{path}.reference_name", _ABSENT, problem, fix))
    elif reference not in by_name:
        issues.append(Issue(f"{path}.reference_name", reference, "no context/input field has this name", fix))
    elif not accept(reference, by_name[reference]):
        issues.append(Issue(f"{path}.reference_name", reference, f"must refer to {wanted}", fix))
