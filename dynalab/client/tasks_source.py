"""Which tasks a model can be built for: the server's list, its cache, or the built-ins.

When a server is configured and answers, its ``/tasks/submitable`` list is
used and cached in the project (``dynalab.project.server_tasks``); offline, the
cache of that server stands in; without either, the definitions built into Dynalab.
"""

from typing import NamedTuple

from dynalab.errors import ServerError
from dynalab.project.server_tasks import definitions_from, read_cache, write_cache

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
            cache = read_cache(project)
            if cache.get("url") == url and cache.get("tasks"):
                return TaskList(definitions_from(cache["tasks"], url), "cache", cache.get("fetched_at", ""))
    from dynalab.tasks import registry

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
    fetched_at = write_cache(project, url, raw)
    return TaskList(definitions_from(raw, url), "server", fetched_at)
