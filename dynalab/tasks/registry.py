"""Task definitions: the built-in ones and custom ones from files.

A task definition is a mapping ``{task, name, description, config, metrics}``
whose ``config`` lists the task's ``context``, ``input`` and ``output``
annotation objects (see ``dynalab.tasks.annotations``) and whose optional
``metrics`` (``{main, others}``) names how an evaluation server scores the
task. Built-in definitions are YAML files
in ``definitions/``; PyYAML is imported only when one is read, because this
package also runs next to the model, where only the standard library is certain.
Every definition is checked by ``dynalab.tasks.validation``, whose public names
(``validate_definition``, ``TaskDefinitionError``, ``Issue``...) are re-exported here.
"""

import copy
import functools
import json
from pathlib import Path

from dynalab.tasks.validation import (
    RESERVED_NAMES,
    SECTIONS,
    TASK_CODE_PATTERN,
    Issue,
    TaskDefinitionError,
    validate_definition,
)

__all__ = [
    "RESERVED_NAMES", "SECTIONS", "TASK_CODE_PATTERN", "Issue", "TaskDefinitionError", "UnknownTask",
    "builtin_task_codes", "load_builtin", "load_task_file", "validate_definition",
]

DEFINITIONS_DIR = Path(__file__).parent / "definitions"

FIX_SYNTAX = "fix the syntax"


class UnknownTask(LookupError):
    """Raised when no definition can be found for a task code."""

    def __init__(self, code, known):
        self.code = code
        self.known = sorted(known)
        super().__init__(
            f"unknown task {code!r} (known tasks: {', '.join(self.known)}); "
            "use one of these codes, or describe your task in a task file"
        )


def builtin_task_codes():
    """The codes of the task definitions built into Dynalab, sorted."""
    return sorted(path.stem for path in DEFINITIONS_DIR.glob("*.yaml"))


def load_builtin(code):
    """The built-in definition of task ``code`` (a fresh copy); UnknownTask if there is none."""
    if code not in builtin_task_codes():
        raise UnknownTask(code, builtin_task_codes())
    return copy.deepcopy(_load_builtin_cached(code))


@functools.lru_cache(maxsize=None)
def _load_builtin_cached(code):
    path = DEFINITIONS_DIR / f"{code}.yaml"
    definition = validate_definition(_parse_yaml(path.read_text(encoding="utf-8"), path), str(path))
    if definition["task"] != code:
        raise TaskDefinitionError(
            str(path), [Issue("task", definition["task"], "does not match the file name", f"set it to {code!r}")]
        )
    return definition


def load_task_file(path):
    """Read and validate a task definition from a YAML or JSON file; returns the definition.

    ``.json`` files are read as JSON (no PyYAML needed); anything else as YAML,
    which also accepts JSON. Raises TaskDefinitionError (or OSError if unreadable).
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    data = _parse_json(text, path) if path.suffix.lower() == ".json" else _parse_yaml(text, path)
    return validate_definition(data, str(path))


def _parse_json(text, path):
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise TaskDefinitionError(
            str(path),
            [Issue(None, None, f"not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})", FIX_SYNTAX)],
        ) from None


def _parse_yaml(text, path):
    try:
        import yaml  # lazily: only the host reads YAML task files
    except ImportError as error:
        raise ImportError(
            f"reading {path} needs PyYAML, which is not installed here; "
            "install pyyaml, or give the task definition as a .json file"
        ) from error
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise TaskDefinitionError(
            str(path), [Issue(None, None, f"not valid YAML{where}: {problem}", FIX_SYNTAX)]
        ) from None
