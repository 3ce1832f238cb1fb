"""Remote workers and their tokens: who may run jobs for this server from another machine.

``dynalab-server add-worker NAME`` issues a worker a token; the server keeps
only its hash (as for API tokens). A worker token is good for the worker
API alone (``routes.worker_api``: claim a job, fetch its inputs, post its
results): every other route refuses it, since it is neither a user's API
token nor a bearer token. Worker tokens start with ``WORKER_TOKEN_PREFIX``,
so that a route can tell the caller why it is refused.
"""

import re

from sqlalchemy import select

from dynalab.server.auth import hash_token, new_token
from dynalab.server.db.models import Worker, utcnow

WORKER_TOKEN_PREFIX = "dlw_"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def is_worker_token(token):
    return token.startswith(WORKER_TOKEN_PREFIX)


def create_worker(session, name):
    """Add worker ``name``; returns ``(worker, token)``. The caller commits."""
    token = WORKER_TOKEN_PREFIX + new_token()
    worker = Worker(name=name, token_hash=hash_token(token), created_at=utcnow())
    session.add(worker)
    return worker, token


def worker_for_token(session, token):
    """The worker whose token is ``token``, or None."""
    if not token or not is_worker_token(token):
        return None
    return session.scalar(select(Worker).where(Worker.token_hash == hash_token(token)))


def find_worker(session, name):
    return session.scalar(select(Worker).where(Worker.name == name))


def all_workers(session):
    return session.scalars(select(Worker).order_by(Worker.id)).all()
