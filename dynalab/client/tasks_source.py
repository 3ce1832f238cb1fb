"""Which tasks a model can be built for: the server's list, its cache, or the built-ins.

When a server is configured and answers, its ``/tasks/submitable`` list is
used and cached in ``.dynalab/tasks-cache.json`` (with the server's address
and the time it was fetched), as the original tool did; offline, the cache of
that server stands in; without either, the definitions built into Dynalab.
"""

import datetime
import json
from typing import NamedTuple

import yaml

from dynalab.atomic import atomic_write_text
from dynalab.errors import ServerError

CACHE_FILE = "tasks-cache.json"
FETCH_TIMEOUT = (3, 15)
"""Short: a task list is a convenience, and an offline laptop should not wait long for it."""


class TaskList(NamedTuple):
    definitions: dict
    """{task code: definition ``{"task", "name", "description", "config"}``}"""
    source: str
    """"server", "cache" or "built-in"."""
    fetched_at: str = ""
    """When the server's list was fetched (for "server" and "cache")."""


def load_tasks(project, url=None, session=None):
    """The tasks available for models of ``project``, as a ``TaskList``; never raises for the network."""
    if url:
        try:
            return refresh_server_tasks(project, url, session=session)
        except ServerError:
            cache = _read_cache(project)
            if cache.get("url") == url and cache.get("tasks"):
                return TaskList(definitions_from(cache["tasks"], url), "cache", cache.get("fetched_at", ""))
    from dynalab.tasks import registry  # written alongside this client; imported when used

    return TaskList({code: registry.load_builtin(code) for code in registry.builtin_task_codes()}, "built-in")


def refresh_server_tasks(project, url, session=None):
    """Fetch the server's task list, cache it and return it as a ``TaskList``.

    Raises ``ServerError`` when the server cannot be reached or fails.
    """
    # requests is imported only when the network is used: every step reads the cache.
    from dynalab.client import api
    from dynalab.client.session import make_session

    if session is None:
        with make_session(retries=1) as own:
            raw = api.fetch_tasks(url, session=own, timeout=FETCH_TIMEOUT)
    else:
        raw = api.fetch_tasks(url, session=session, timeout=FETCH_TIMEOUT)
    fetched_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    cache = {"url": url, "fetched_at": fetched_at, "tasks": raw}
    atomic_write_text(project.dynalab_dir / CACHE_FILE, json.dumps(cache, indent=2, sort_keys=True) + "\n")
    return TaskList(definitions_from(raw, url), "server", fetched_at)


def cached_server_tasks(project, url=None):
    """{code: definition} from the cache (of server ``url`` if given); {} if none. No network."""
    cache = _read_cache(project)
    if not cache.get("tasks") or (url and cache.get("url") != url):
        return {}
    return definitions_from(cache["tasks"], cache.get("url", "the server"))


def upload_quota(project, task_code):
    """(uploads, hours) the cached server list gives for ``task_code``, or None if unknown."""
    for task in _read_cache(project).get("tasks") or []:
        if isinstance(task, dict) and task.get("task_code") == task_code:
            threshold, hours = task.get("dynalab_threshold"), task.get("dynalab_hr_diff")
            if isinstance(threshold, int) and isinstance(hours, (int, float)):
                return threshold, hours
    return None


def definitions_from(tasks, url):
    """Task definitions from ``/tasks/submitable`` entries; entries we cannot use are left out.

    Dynabench sends each task's I/O spec as a YAML text (``config_yaml``); one
    that does not validate would only fail later, in the model's tests.
    """
    from dynalab.tasks import registry

    definitions = {}
    for task in tasks:
        if not isinstance(task, dict) or not isinstance(task.get("config_yaml"), str):
            continue
        code = task.get("task_code")
        try:
            config = yaml.safe_load(task["config_yaml"])
            definition = {"task": code, "name": str(task.get("name") or code), "config": config}
            if task.get("description"):
                definition["description"] = str(task["description"])
            definitions[code] = registry.validate_definition(definition, f"task {code!r} from {url}")
        except (yaml.YAMLError, registry.TaskDefinitionError):
            continue
    return definitions


def _read_cache(project):
    try:
        cache = json.loads((project.dynalab_dir / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        # A cache: missing or damaged only means asking the server again.
        return {}
    return cache if isinstance(cache, dict) else {}
