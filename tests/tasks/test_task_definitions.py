"""Which definition a model's task resolves to, and the packaged copy in .dynalab/<task>.json."""

import json

import pytest

from dynalab.errors import ConfigError
from dynalab.project import Project
from dynalab.project.task_definitions import known_tasks, resolve_task_definition, write_packaged_copy
from dynalab.tasks.registry import load_builtin

TOXICITY = {
    "config": {
        "context": [],
        "input": [
            {"name": "text", "type": "string"},
            {"name": "label", "type": "multiclass", "labels": ["toxic", "fine"]},
        ],
        "output": [{"name": "label"}],
    },
    "task": "toxicity",
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv("DYNALAB_API_URL", raising=False)
    (tmp_path / ".dynalab").mkdir()
    return Project(tmp_path)


def write_task_file(project, code, definition):
    path = project.dynalab_dir / f"{code}.json"
    path.write_text(json.dumps(definition, indent=4))  # the original `init` wrote it this way
    return path


def test_a_task_known_only_from_the_original_task_file_resolves_to_it(project):
    write_task_file(project, "toxicity", TOXICITY)
    assert resolve_task_definition(project, {"task": "toxicity"}) == TOXICITY
    assert "toxicity" in known_tasks(project)


def test_a_builtin_task_wins_over_a_stale_copy_in_dynalab(project):
    stale = load_builtin("nli")
    stale["config"]["input"][1]["labels"] = ["yes", "no"]
    write_task_file(project, "nli", stale)
    assert resolve_task_definition(project, {"task": "nli"}) == load_builtin("nli")


def test_without_any_source_the_task_is_unknown(project):
    with pytest.raises(ConfigError, match="unknown task"):
        resolve_task_definition(project, {"task": "toxicity"})


def test_a_task_file_for_another_task_is_named(project):
    write_task_file(project, "toxicity", {**TOXICITY, "task": "spam"})
    with pytest.raises(ConfigError) as caught:
        resolve_task_definition(project, {"task": "toxicity"})
    assert str(caught.value) == ".dynalab/toxicity.json: field `task` = 'spam', but the file is named for task 'toxicity'"
    assert caught.value.hint == "set `task` to 'toxicity' in .dynalab/toxicity.json, or rename the file"


def test_the_caches_in_dynalab_are_not_taken_for_tasks(project):
    (project.dynalab_dir / "hash-cache.json").write_text("{}")
    (project.dynalab_dir / "tasks-cache.json").write_text("{}")
    (project.dynalab_dir / "broken.json").write_text("{not json")
    assert set(known_tasks(project)) == {"flores_full", "flores_small1", "flores_small2", "hs", "nli", "qa", "sentiment", "vqa"}


def test_the_packaged_copy_keeps_a_file_that_already_holds_the_definition(project):
    path = write_task_file(project, "toxicity", TOXICITY)
    original = path.read_text()
    assert write_packaged_copy(project, TOXICITY) == path
    assert path.read_text() == original
    changed = {**TOXICITY, "name": "Toxicity"}
    write_packaged_copy(project, changed)
    assert json.loads(path.read_text()) == changed
