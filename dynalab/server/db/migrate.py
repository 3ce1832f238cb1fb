"""Bringing a database to the schema of this version, through the Alembic revisions.

A database made before migrations existed (0.2.0) has the tables of revision
0001 and no ``alembic_version``: it is stamped 0001 first, then upgraded like
any other. On PostgreSQL an advisory lock keeps two processes (the server and
an admin command started at once) from upgrading together; SQLite's own write
lock does the same there.
"""

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FIRST_REVISION = "0001"
_LOCK_KEY = 0x64796E616C6162  # "dynalab"

# Alembic narrates every step at INFO; the server says in one line what changed.
logging.getLogger("alembic").setLevel(logging.WARNING)


def alembic_config(connection=None):
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision():
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine):
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine):
    """Apply every revision the database lacks; returns (revision before, revision after)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        before = MigrationContext.configure(connection).get_current_revision()
        config = alembic_config(connection)
        if before is None and inspect(connection).has_table("users"):
            command.stamp(config, FIRST_REVISION)  # made by 0.2.0, which predates migrations
            before = FIRST_REVISION
        if before != head_revision():
            command.upgrade(config, "head")
    return before, head_revision()
