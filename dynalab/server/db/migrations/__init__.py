"""The database's migrations (Alembic): ``versions/`` holds one revision per schema change.

``dynalab.server.db.upgrade`` applies them when the server or an admin command
opens the database, so a data dir made by an earlier version is brought up to
date with nothing lost. Revision 0001 is the schema of 0.2.0, which had no
migrations: such a database is stamped 0001, then upgraded.
"""
