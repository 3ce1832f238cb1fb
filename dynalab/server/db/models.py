"""The server's records: users, their bearer tokens, uploads (the models), task quotas,
datasets, the evaluation of each model on each dataset, the jobs that do the work, the
remote workers allowed to run them, and the history of every state a model or evaluation went through.

``Base.metadata`` is the whole schema; it changes only through a migration
(``dynalab/server/db/migrations``), so a data dir of an earlier version upgrades. Times are stored as naive UTC (SQLite
keeps no time zone); ``utcnow`` is the one clock every module uses, so
records compare consistently.
"""

from datetime import datetime, timezone

from sqlalchemy import BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def iso(moment):
    """ISO 8601 text of a naive UTC time, with its offset spelt out."""
    return moment.replace(tzinfo=timezone.utc, microsecond=0).isoformat()


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # None: the account cannot sign in on the web page (API token only).
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    api_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class BearerToken(Base):
    """A short-lived token handed out for an API token (the upload credential)."""

    __tablename__ = "bearer_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class Upload(Base):
    """An accepted model archive; rejected or interrupted uploads never get one."""

    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_task_code_published", "task_code", "published"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    task_code: Mapped[str] = mapped_column(String(100), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)  # archives pass 2**31 bytes
    status: Mapped[str] = mapped_column(String(32), default="uploaded")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    # Set when the model ends `failed` (see dynalab.server.lifecycle).
    failure_class: Mapped[str | None] = mapped_column(String(32), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    failure_hint: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # On its task's leaderboard (``dynalab.server.publishing``); its page is then public.
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The model card (``card`` in the config, editable on the model's page).
    card_description: Mapped[str | None] = mapped_column(Text, nullable=True)
    card_paper_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    card_code_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    card_license: Mapped[str | None] = mapped_column(String(100), nullable=True)
    card_anonymous: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def card(self):
        return {"description": self.card_description or "", "paper_url": self.card_paper_url or "",
                "code_url": self.card_code_url or "", "license": self.card_license or "",
                "anonymous": bool(self.card_anonymous)}

    @card.setter
    def card(self, card):
        self.card_description = card.get("description") or None
        self.card_paper_url = card.get("paper_url") or None
        self.card_code_url = card.get("code_url") or None
        self.card_license = card.get("license") or None
        self.card_anonymous = bool(card.get("anonymous"))

    def as_json(self):
        return {
            "model_id": self.id,
            "name": self.name,
            "task_code": self.task_code,
            "sha256": self.sha256,
            "size": self.size,
            "status": self.status,
            "uploaded_at": iso(self.created_at),
            "published": bool(self.published),
            "published_at": iso(self.published_at) if self.published_at else None,
            "card": self.card,
        }


class TaskQuota(Base):
    """An administrator's override of a task's upload quota (``set-quota``)."""

    __tablename__ = "task_quotas"

    task_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer)
    hr_diff: Mapped[int] = mapped_column(Integer)


class Dataset(Base):
    """Examples a task's models are evaluated on; the file is ``DATA_DIR/datasets/<sha256>.jsonl``."""

    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("task_code", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_code: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(100))
    access: Mapped[str] = mapped_column(String(16), default="scoring")  # scoring | standard | hidden
    weight: Mapped[float] = mapped_column(Float, default=5.0)
    sha256: Mapped[str] = mapped_column(String(64))
    examples: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Evaluation(Base):
    """One model on one dataset: its progress and, once done, its metrics. A re-run replaces it."""

    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("model_id", "dataset_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | running | done | failed
    metrics: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON {name: number}
    examples_per_second: Mapped[float | None] = mapped_column(Float, nullable=True)
    peak_memory_mb: Mapped[float | None] = mapped_column(Float, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Job(Base):
    """A unit of work on a model: deploy it (``dataset_id`` NULL) or evaluate it on one dataset.

    The job's state here is the source of truth; a worker holds a job through a
    lease it renews with heartbeats, and a job whose lease expired is taken up again.
    """

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)  # queued | running | done | failed
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    lease_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(100), nullable=True)
    dispatched_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    log: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Worker(Base):
    """A remote worker (``dynalab-server add-worker``): its token can fetch job inputs and post job
    results, nothing else."""

    __tablename__ = "workers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class HistoryEntry(Base):
    """One transition of a model (``dataset_id`` NULL) or of one of its evaluations, with its time."""

    __tablename__ = "history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[int | None] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), nullable=True)
    from_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
