"""Alembic's environment: runs the revisions on the connection ``dynalab.server.db.upgrade`` hands over."""

from alembic import context

from dynalab.server.db.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
