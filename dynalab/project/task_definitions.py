"""Which task definition a model is tested against, and its packaged copy.

A model's task comes from, in order: its config's ``task_file``; the task list
fetched from the evaluation server (its cache, ``server_tasks.py``); the definitions
built into Dynalab; the project's ``.dynalab/<task>.json``, where the original
tool's ``init`` wrote the definition of the task it fetched (so a custom task
known only from that file still works). The chosen definition is written to
``.dynalab/<task>.json`` (the original tool's format), which is packaged with
the model so the handler's ``TaskIO(task)`` finds it wherever it runs.
"""

import difflib
import json

from dynalab.errors import ConfigError
from dynalab.files import atomic_write_text
from dynalab.project.server_tasks import CACHE_FILE, cached_server_tasks
from dynalab.tasks import registry


def known_tasks(project):
    """{task code: short description} of every task this project can use."""
    tasks = {code: registry.load_builtin(code).get("name", "") for code in registry.builtin_task_codes()}
    for definitions in (cached_server_tasks(project), _project_task_files(project)):
        for code, definition in definitions.items():
            tasks.setdefault(code, definition.get("name", ""))
    return dict(sorted(tasks.items()))


def resolve_task_definition(project, config, source="config"):
    """The definition ``{"task", "config", ...}`` for the model's task."""
    code = config["task"]
    if config.get("task_file"):
        path = project.inside(config["task_file"], "task_file", source)
        try:
            definition = registry.load_task_file(path)
        except (registry.TaskDefinitionError, OSError) as error:
            raise ConfigError(str(error), hint="fix the task file; the README's Task I/O section shows the format")
        if definition["task"] != code:
            raise ConfigError(
                f"{source}: `task` is {code!r} but {config['task_file']} defines task {definition['task']!r}",
                hint="make the two agree",
            )
        return definition
    server = cached_server_tasks(project)
    if code in server:
        return server[code]
    if code in registry.builtin_task_codes():
        return registry.load_builtin(code)
    definition = _project_task_file(project, code)
    if definition is not None:
        return definition
    known = known_tasks(project)
    close = difflib.get_close_matches(str(code), list(known), n=1)
    raise ConfigError(
        f"{source}: field `task` = {code!r}: unknown task" + (f"; did you mean {close[0]!r}?" if close else "")
        + f" (known: {', '.join(known)})",
        hint="use one of the known task codes, or describe your task in a YAML file and set `task_file`",
    )


def write_packaged_copy(project, definition):
    """Write ``.dynalab/<task>.json`` unless it already holds ``definition``.

    A file that holds it in another layout (one the original tool wrote, say)
    is left as it is.
    """
    path = project.task_definition_path(definition["task"])
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        current = None
    if current != definition:
        atomic_write_text(path, json.dumps(definition, indent=2, sort_keys=True) + "\n")
    return path


def _project_task_files(project):
    """{code: definition} of the valid task files in ``.dynalab/`` (the caches there are skipped)."""
    if not project.dynalab_dir.is_dir():
        return {}
    skipped = {CACHE_FILE, project.hash_cache_path.name}
    found = {}
    for path in sorted(project.dynalab_dir.glob("*.json")):
        if path.name not in skipped:
            definition = _project_task_file(project, path.stem, quiet=True)
            if definition is not None:
                found[path.stem] = definition
    return found


def _project_task_file(project, code, quiet=False):
    """The definition in ``.dynalab/<code>.json`` (as the original ``init`` wrote it), or None if absent.

    An invalid file is a ConfigError naming it, or None when ``quiet``.
    """
    if not isinstance(code, str) or not registry.TASK_CODE_PATTERN.match(code):
        return None
    path = project.task_definition_path(code)
    if not path.is_file():
        return None
    relative = project.relative(path)
    try:
        definition = registry.load_task_file(path)
    except (registry.TaskDefinitionError, OSError) as error:
        if quiet:
            return None
        message = str(error).replace(str(path), relative, 1)
        raise ConfigError(message, hint="fix the task file; the README's Task I/O section shows the format")
    if definition["task"] != code:
        if quiet:
            return None
        raise ConfigError(
            f"{relative}: field `task` = {definition['task']!r}, but the file is named for task {code!r}",
            hint=f"set `task` to {code!r} in {relative}, or rename the file",
        )
    return definition

