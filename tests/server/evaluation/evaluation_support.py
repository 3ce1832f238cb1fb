"""Helpers of the end-to-end evaluation tests: datasets made by the example's generator, the example's own
predictions outside the server, the model processes still running, the server's score records."""

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from dynalab.isolation import workspace
from dynalab.project import Project
from dynalab.project.config import load_config
from dynalab.project.task_definitions import resolve_task_definition
from dynalab.runtime.protocol import Event, read_events
from dynalab.server.db.database import Database
from dynalab.server.db.models import Evaluation
from dynalab.server.settings import sqlite_url


def make_dataset(project, path, seed, count):
    """Write ``count`` nli examples with the example's own generator (examples/nli-bow/make_dataset.py)."""
    subprocess.run([sys.executable, "make_dataset.py", str(path), "--seed", str(seed), "--count", str(count)],
                   cwd=project, check=True, capture_output=True)
    return path


def read_jsonl(path):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def inputs_of(example):
    """What the server sends the model of a dataset example: its uid and inputs, not its gold label."""
    return {key: value for key, value in example.items() if key != "label"}


def local_predictions(project, name, examples, work):
    """{uid: label} the model's handler gives ``examples`` when the local runner calls it in its own
    process (no server, no sandbox: as ``dynalab-cli test --local`` does)."""
    project = Project(project)
    config = load_config(project, name)
    definition = resolve_task_definition(project, config)
    model_dir, spec = Path(work) / "model", Path(work) / "spec.json"
    workspace.prepare_model(project.root, model_dir, config)
    workspace.write_run_spec(spec, name, config, definition, project.root, model_dir,
                             [inputs_of(example) for example in examples])
    read_fd, write_fd = os.pipe()
    process = subprocess.Popen([sys.executable, "-m", "dynalab.runtime.local_runner", str(spec), "--events-fd",
                                str(write_fd)], pass_fds=(write_fd,), cwd=work, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd, encoding="utf-8") as events:
        found = read_events(events.read().splitlines())
    assert process.wait(300) == 0, found[-3:]
    return {event["input"]["uid"]: event["response"]["label"] for event in found if event["event"] == Event.DATAPOINT}


def model_processes(data_dir):
    """Command lines of the processes running out of ``data_dir``'s scratch dirs (the served models)."""
    scratch = str(Path(data_dir) / "scratch")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue  # it ended meanwhile
        if scratch in command:
            found.append(command)
    return found


def score_records(data_dir, model_id):
    """{dataset id: how many score records} of ``model_id`` in the server's database."""
    db = Database(sqlite_url(Path(data_dir)))
    try:
        with db.session() as session:
            return dict(session.execute(select(Evaluation.dataset_id, func.count()).where(
                Evaluation.model_id == model_id).group_by(Evaluation.dataset_id)).all())
    finally:
        db.dispose()
