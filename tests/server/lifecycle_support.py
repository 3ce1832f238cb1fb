"""A server's parts without its HTTP side, for tests of the lifecycle, the queue and the executor.

``ServerParts`` holds what ``dynalab-server run`` wires together (the
database, the settings, the task catalog) over a real data dir and a real
database; ``add_model`` records an upload as the intake does.
"""

import hashlib
import uuid
from dataclasses import dataclass

from server_support import model_archive

from dynalab.server import auth, lifecycle
from dynalab.server.db.database import Database
from dynalab.server.db.models import Dataset, Evaluation, HistoryEntry, Job, Upload
from dynalab.server.intake.storage import BlobStore, prepare_data_dir
from dynalab.server.settings import Settings
from dynalab.server.task_catalog import TaskCatalog
from sqlalchemy import select


@dataclass
class ServerParts:
    db: Database
    settings: Settings
    catalog: TaskCatalog

    @classmethod
    def open(cls, data_dir, url=""):
        settings = Settings(data_dir=data_dir, database_url=url)
        prepare_data_dir(settings)
        return cls(Database(settings.database_url), settings, TaskCatalog(settings.tasks_dir))

    def session(self):
        return self.db.session()

    def add_model(self, name="m", task="nli", archive=None, user_id=None):
        """Record an upload of ``archive`` as the intake does (its deployment queued); its id."""
        archive = archive or model_archive(name, task, uuid.uuid4().bytes)
        digest = hashlib.sha256(archive).hexdigest()
        path = BlobStore(self.settings.blobs_dir).path(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(archive)
        with self.session() as session:
            if user_id is None:
                user, _ = auth.create_user(session, f"{uuid.uuid4().hex[:10]}@example.org", None)
                session.flush()
                user_id = user.id
            upload = Upload(user_id=user_id, name=name, task_code=task, sha256=digest, size=len(archive))
            session.add(upload)
            lifecycle.upload_received(session, upload)
            session.commit()
            return upload.id

    def add_dataset_row(self, task="nli", name=None, access="scoring", weight=5.0):
        """A dataset's record alone (no file): enough for the lifecycle, which never reads examples."""
        with self.session() as session:
            dataset = Dataset(task_code=task, name=name or f"d-{uuid.uuid4().hex[:8]}", access=access,
                              weight=weight, sha256=uuid.uuid4().hex * 2, examples=1)
            session.add(dataset)
            session.commit()
            return dataset.id

    def model(self, model_id):
        with self.session() as session:
            return session.get(Upload, model_id)

    def evaluations(self, model_id):
        """{dataset id: status} of the model's evaluations."""
        with self.session() as session:
            return dict(session.execute(select(Evaluation.dataset_id, Evaluation.status)
                                        .where(Evaluation.model_id == model_id)).all())

    def jobs(self, model_id):
        """[(dataset id, state, attempt)] of the model's jobs, oldest first."""
        with self.session() as session:
            return [(job.dataset_id, job.state, job.attempt) for job in lifecycle.jobs_of(session, model_id)]

    def history(self, model_id, dataset_id=False):
        """[(from, to, detail)] of the model (``dataset_id=False``) or of one of its evaluations."""
        with self.session() as session:
            entries = lifecycle.history_of(session, model_id)
            wanted = None if dataset_id is False else dataset_id
            return [(e.from_status, e.to_status, e.detail) for e in entries if e.dataset_id == wanted]

    def history_rows(self):
        with self.session() as session:
            return session.scalar(select(HistoryEntry.id).order_by(HistoryEntry.id.desc()).limit(1)) or 0

    def job_rows(self):
        with self.session() as session:
            return session.scalars(select(Job)).all()

    def close(self):
        self.db.dispose()
