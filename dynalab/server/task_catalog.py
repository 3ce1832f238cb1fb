"""The tasks this server accepts uploads for, and each task's upload quota.

The built-in definitions come first; a ``DIR/tasks/<anything>.yaml`` file adds
a task or replaces a built-in one with the same code. Such a file may also set
the task's quota with top-level ``dynalab_threshold`` (uploads) and
``dynalab_hr_diff`` (hours); ``dynalab-server set-quota`` overrides both. The metrics a
task file names must fit its targets (``bleu`` needs a string target, ``accuracy`` a
multiclass one...).
"""

from dataclasses import dataclass

import yaml

from dynalab.errors import UsageError
from dynalab.server.db.models import TaskQuota
from dynalab.server.evaluation.metrics import metric_problems
from dynalab.tasks import registry
from dynalab.tasks.limits import limits_of

DEFAULT_THRESHOLD = 3
DEFAULT_HR_DIFF = 24


class TaskCatalogError(ValueError):
    """Raised when a task file in the data dir is unreadable or malformed."""


@dataclass(frozen=True)
class Quota:
    threshold: int
    hr_diff: int


def load_catalog(tasks_dir):
    """The catalog for ``tasks_dir``, a malformed task file there being a ``UsageError``."""
    try:
        return TaskCatalog(tasks_dir)
    except TaskCatalogError as error:
        raise UsageError(str(error), hint="fix or remove that file in the data dir's tasks/ folder")


class TaskCatalog:
    def __init__(self, tasks_dir=None):
        self.definitions = {code: registry.load_builtin(code) for code in registry.builtin_task_codes()}
        for path in sorted(tasks_dir.glob("*.yaml")) if tasks_dir and tasks_dir.is_dir() else []:
            try:
                definition = registry.load_task_file(path)
            except (registry.TaskDefinitionError, OSError) as error:
                raise TaskCatalogError(str(error)) from None
            for key in ("dynalab_threshold", "dynalab_hr_diff"):
                if key in definition and not (type(definition[key]) is int and definition[key] >= 0):
                    raise TaskCatalogError(f"{path}: {key} = {definition[key]!r}: must be a whole number >= 0")
            problems = metric_problems(definition)
            if problems:
                raise TaskCatalogError(f"{path}: {'; '.join(problems)}")
            self.definitions[definition["task"]] = definition

    def codes(self):
        return sorted(self.definitions)

    def __contains__(self, code):
        return code in self.definitions

    def quota(self, session, code):
        """The quota of task ``code``: set-quota's override, else the task file's, else 3 per 24 h."""
        override = session.get(TaskQuota, code)
        if override is not None:
            return Quota(override.threshold, override.hr_diff)
        definition = self.definitions[code]
        return Quota(definition.get("dynalab_threshold", DEFAULT_THRESHOLD),
                     definition.get("dynalab_hr_diff", DEFAULT_HR_DIFF))

    def as_json(self, session, code):
        """Task ``code`` as Dynabench's ``/tasks/submitable`` lists it."""
        definition = self.definitions[code]
        quota = self.quota(session, code)
        return {
            "task_code": code,
            "name": definition.get("name", code),
            "description": definition.get("description", ""),
            "config_yaml": yaml.safe_dump(definition["config"], sort_keys=False, allow_unicode=True),
            "dynalab_hr_diff": quota.hr_diff,
            "dynalab_threshold": quota.threshold,
            "limits": limits_of(definition),  # what a model of the task gets, in the integrated test as here
            "submitable": True,
        }
