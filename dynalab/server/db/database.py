"""Opening the database: an engine, a session factory, and the schema brought up to date."""

from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import sessionmaker

from dynalab.errors import UsageError
from dynalab.server.db.migrate import upgrade
from dynalab.server.db.models import User


class Database:
    """An engine plus a session factory, on a database upgraded to this version's schema."""

    def __init__(self, url):
        self.url = url
        is_sqlite = url.startswith("sqlite")
        kwargs = {"connect_args": {"check_same_thread": False, "timeout": 30}} if is_sqlite else {}
        self.engine = create_engine(url, **kwargs)
        if is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.revisions = upgrade(self.engine)  # (before, after): the server logs an upgrade
        self.session = sessionmaker(self.engine, expire_on_commit=False)

    def user_by_email(self, session, email):
        return session.scalar(select(User).where(User.email == email))

    def dispose(self):
        self.engine.dispose()


def open_database(url):
    """``Database(url)``, with a missing driver reported as a usage error."""
    try:
        return Database(url)
    except ImportError as error:
        raise UsageError(f"the database driver for {url.split(':', 1)[0]} is not installed ({error})",
                         hint="install it, e.g. `pip install 'psycopg[binary]'` for PostgreSQL")


def write_transaction(session):
    """Make the rest of ``session``'s transaction a writer's, so that what it reads stays true
    until it commits. PostgreSQL locks the rows a query selects ``FOR UPDATE``; SQLite has one
    writer at a time, and its lock is taken now (``BEGIN IMMEDIATE``) rather than at the first
    write, when another writer may have changed what this one read."""
    connection = session.connection()
    if connection.dialect.name == "sqlite" and not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(connection, _record):
    # WAL lets the admin commands write while the server reads; foreign keys
    # are off by default in SQLite.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
