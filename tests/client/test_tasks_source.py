"""The task list: from the server when it answers, its cache offline, else the built-ins."""

import json

from dynalab.client.tasks_source import load_tasks
from dynalab.project import Project
from dynalab.project.server_tasks import cached_server_tasks, upload_quota
from dynalab.tasks import registry
from dynalab.tasks.limits import limits_of


def test_tasks_come_from_the_server_and_are_cached(server, project):
    tasks = load_tasks(Project(project), server.url)
    assert tasks.source == "server"
    assert set(registry.builtin_task_codes()) <= set(tasks.definitions)
    nli = tasks.definitions["nli"]
    assert nli["task"] == "nli" and {"context", "input", "output"} <= set(nli["config"])
    cache = json.loads((project / ".dynalab" / "tasks-cache.json").read_text())
    assert cache["url"] == server.url and cache["fetched_at"] == tasks.fetched_at
    assert cached_server_tasks(Project(project)) == tasks.definitions
    assert upload_quota(Project(project), "nli") == (3, 24)
    assert limits_of(nli) == nli["limits"] == limits_of({})  # the server's limits, kept with the task


def test_offline_the_cache_of_that_server_stands_in(server, project):
    load_tasks(Project(project), server.url)
    cache = project / ".dynalab" / "tasks-cache.json"
    data = json.loads(cache.read_text())
    data["url"] = "http://127.0.0.1:9"  # as if fetched from a server that is now down
    cache.write_text(json.dumps(data))
    tasks = load_tasks(Project(project), "http://127.0.0.1:9")
    assert tasks.source == "cache" and "nli" in tasks.definitions
    assert cached_server_tasks(Project(project), url="http://elsewhere.example") == {}


def test_without_server_or_cache_the_built_in_tasks_are_used(project):
    tasks = load_tasks(Project(project), "http://127.0.0.1:9")
    assert tasks.source == "built-in"
    assert sorted(tasks.definitions) == registry.builtin_task_codes()
    assert load_tasks(Project(project)).source == "built-in"
    assert cached_server_tasks(Project(project)) == {}


def test_a_damaged_cache_is_ignored(project):
    (project / ".dynalab").mkdir()
    (project / ".dynalab" / "tasks-cache.json").write_text("{oops")
    assert cached_server_tasks(Project(project)) == {}
    assert upload_quota(Project(project), "nli") is None
