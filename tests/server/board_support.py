"""Evaluated models on a real server, for the tests of pages, publishing and leaderboards.

The models are really uploaded to a real server process; their datasets are
added with ``dynalab-server add-dataset``; their evaluation is then recorded
through the lifecycle's own operations (``deploying``, ``deployed``,
``evaluation_done``...) on the server's database, which is what the server's
jobs call when they run a model (the test server runs no jobs: ``--workers 0``).
"""

import json
import uuid

from server_support import Api, model_archive

from dynalab.server import lifecycle
from dynalab.server.db.database import Database
from dynalab.server.db.models import Dataset
from dynalab.server.settings import sqlite_url
from sqlalchemy import select

NLI_EXAMPLE = {"context": "A man sleeps.", "hypothesis": "A person rests.", "label": "entailed"}


class Board:
    """A server and the handles a test needs: its users' API clients, its database, its datasets."""

    def __init__(self, server, tmp_path):
        self.server = server
        self.tmp_path = tmp_path
        self.api = Api(server.url)
        self.db = Database(sqlite_url(server.data_dir))
        for task in ("nli", "sentiment"):  # room for the many uploads of one test
            assert server.cli("set-quota", task, "--threshold", "1000", "--hours", "1").returncode == 0

    def close(self):
        self.db.dispose()

    def user(self, email, password=None):
        """A new user: their bearer token."""
        return self.api.bearer(self.server.add_user(email, password))

    def add_dataset(self, name, task="nli", access="scoring", weight=5):
        path = self.tmp_path / f"{name}-{uuid.uuid4().hex[:6]}.jsonl"
        path.write_text("".join(json.dumps({"uid": f"{name}-{i}", **NLI_EXAMPLE}) + "\n" for i in range(3)))
        result = self.server.cli("add-dataset", "--task", task, "--name", name, "--access", access,
                                 "--weight", str(weight), str(path))
        assert result.returncode == 0, result.stderr

    def upload(self, bearer, name, task="nli", card=None):
        """Upload a real archive as model ``name``; its receipt (JSON)."""
        data = {"name": name, "taskCode": task, **({"card": json.dumps(card)} if card is not None else {})}
        response = self.api.http.post(
            self.api.url + "/models/upload/s3", headers={"Authorization": f"Bearer {bearer}"}, data=data,
            files={"tarball": (f"{name}.tar.gz", model_archive(name, task, uuid.uuid4().bytes), "application/gzip")},
            timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def evaluate(self, model_id, scores):
        """Record the model's deployment, then ``scores`` = {dataset name: (metrics, examples/s, MB) or
        "failed" or None (left pending)}, as its jobs would report them."""
        with self.db.session() as session:
            model = lifecycle.lock_model(session, model_id)
            lifecycle.deploying(session, model)
            lifecycle.deployed(session, model)
            ids = {dataset.name: dataset.id for dataset in session.scalars(
                select(Dataset).where(Dataset.task_code == model.task_code))}
            for name, score in scores.items():
                if score is None:
                    continue
                lifecycle.evaluation_started(session, model, ids[name])
                if score == "failed":
                    lifecycle.fail_model(session, model, "timeout", f"no answer on {name} within 60 s",
                                         dataset_id=ids[name])
                else:
                    metrics, per_second, memory = score
                    lifecycle.evaluation_done(session, model, ids[name], metrics, per_second, memory)
            session.commit()

    def put(self, bearer, path):
        return self.api.http.put(self.api.url + path, headers={"Authorization": f"Bearer {bearer}"}, timeout=30)

    def leaderboard(self, task="nli", **params):
        response = self.api.get(f"/tasks/{task}/leaderboard", params=params)
        assert response.status_code == 200, response.text
        return response.json()
