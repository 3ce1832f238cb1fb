"""Upload throttling: at most ``threshold`` uploads per ``hr_diff`` hours, per user and task.

Counted from the upload records, so the quota survives a restart, and only
accepted uploads count: a refused or interrupted one costs nothing, and nor
does one that failed through the server's own fault (``infrastructure``).
"""

import math
from datetime import timedelta

from sqlalchemy import or_, select

from dynalab.server.db.models import Upload, iso, utcnow
from dynalab.server.jobs.protocol import INFRASTRUCTURE


class QuotaExceeded(Exception):
    """Raised when a user has used up a task's upload quota; the text says when it frees up."""

    def __init__(self, task_code, quota, next_slot, now):
        self.task_code = task_code
        self.quota = quota
        self.next_slot = next_slot
        self.retry_after = max(1, math.ceil((next_slot - now).total_seconds())) if next_slot else None
        if quota.threshold == 0:
            message = f"task {task_code!r} accepts no uploads (its quota is 0)"
        else:
            message = (
                f"upload limit reached for task {task_code!r}: at most {quota.threshold} uploads "
                f"per {quota.hr_diff} hours; the next slot opens at {iso(next_slot)} "
                f"(in {human_duration(int((next_slot - now).total_seconds()))})"
            )
        super().__init__(message)

    def as_json(self):
        return {
            "detail": str(self),
            "limit": self.quota.threshold,
            "hours": self.quota.hr_diff,
            "next_slot": iso(self.next_slot) if self.next_slot else None,
            "retry_after": self.retry_after,
        }


def human_duration(seconds):
    """``seconds`` as people say it: "23 h 59 min", "5 min", "40 s" (whole minutes: the exact
    time is given next to it)."""
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(seconds // 60, 60)
    return " ".join(part for part in (f"{hours} h" if hours else "", f"{minutes} min" if minutes else "") if part)


def check_quota(session, user_id, task_code, quota, now=None):
    """Raise QuotaExceeded if one more upload would pass the quota."""
    now = now or utcnow()
    if quota.threshold == 0:
        raise QuotaExceeded(task_code, quota, None, now)
    since = now - timedelta(hours=quota.hr_diff)
    recent = session.scalars(
        select(Upload.created_at)
        .where(Upload.user_id == user_id, Upload.task_code == task_code, Upload.created_at > since,
               or_(Upload.failure_class.is_(None), Upload.failure_class != INFRASTRUCTURE))
        .order_by(Upload.created_at)
    ).all()
    if len(recent) < quota.threshold:
        return
    # A slot opens when enough of the recent uploads have left the window.
    next_slot = recent[len(recent) - quota.threshold] + timedelta(hours=quota.hr_diff)
    raise QuotaExceeded(task_code, quota, next_slot, now)
