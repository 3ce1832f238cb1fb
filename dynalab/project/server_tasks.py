"""The evaluation server's task list as the project keeps it: ``.dynalab/tasks-cache.json``.

``dynalab.client.tasks_source`` fetches the list (``GET /tasks/submitable``)
and writes it here, with the server's address and the time it was fetched,
as the original tool did; every step reads it without touching the network.
"""

import datetime
import json

import yaml

from dynalab.files import atomic_write_text
from dynalab.tasks import registry

CACHE_FILE = "tasks-cache.json"


def write_cache(project, url, tasks):
    """Keep the raw task list ``tasks`` of the server at ``url``; returns when it was fetched (ISO)."""
    fetched_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()
    cache = {"url": url, "fetched_at": fetched_at, "tasks": tasks}
    atomic_write_text(project.dynalab_dir / CACHE_FILE, json.dumps(cache, indent=2, sort_keys=True) + "\n")
    return fetched_at


def read_cache(project):
    """The cache as a dict (``{}`` when there is none, or it is damaged)."""
    try:
        cache = json.loads((project.dynalab_dir / CACHE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        # A cache: missing or damaged only means asking the server again.
        return {}
    return cache if isinstance(cache, dict) else {}


def cached_server_tasks(project, url=None):
    """{code: definition} from the cache (of server ``url`` if given); {} if none. No network."""
    cache = read_cache(project)
    if not cache.get("tasks") or (url and cache.get("url") != url):
        return {}
    return definitions_from(cache["tasks"], cache.get("url", "the server"))


def upload_quota(project, task_code):
    """(uploads, hours) the cached server list gives for ``task_code``, or None if unknown."""
    for task in read_cache(project).get("tasks") or []:
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
            if task.get("limits") is not None:  # the server's limits: the tests apply what it will
                definition["limits"] = task["limits"]
            definitions[code] = registry.validate_definition(definition, f"task {code!r} from {url}")
        except (yaml.YAMLError, registry.TaskDefinitionError):
            continue
    return definitions
