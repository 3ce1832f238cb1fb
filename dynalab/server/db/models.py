"""The server's records: users, their bearer tokens, uploads and task quotas.

``Base.metadata`` is the whole schema. Times are stored as naive UTC (SQLite
keeps no time zone); ``utcnow`` is the one clock every module uses, so
records compare consistently.
"""

from datetime import datetime, timezone

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
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

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    task_code: Mapped[str] = mapped_column(String(100), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)  # archives pass 2**31 bytes
    status: Mapped[str] = mapped_column(String(32), default="uploaded")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    def as_json(self):
        return {
            "model_id": self.id,
            "name": self.name,
            "task_code": self.task_code,
            "sha256": self.sha256,
            "size": self.size,
            "status": self.status,
            "uploaded_at": iso(self.created_at),
        }


class TaskQuota(Base):
    """An administrator's override of a task's upload quota (``set-quota``)."""

    __tablename__ = "task_quotas"

    task_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    threshold: Mapped[int] = mapped_column(Integer)
    hr_diff: Mapped[int] = mapped_column(Integer)
