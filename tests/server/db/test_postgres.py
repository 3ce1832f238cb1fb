"""The same server on PostgreSQL.

The database is ``DYNALAB_TEST_POSTGRES_URL``, else the one ``.ci/postgres-setup``
creates. Without a reachable database the test is skipped, except in CI
(``CI`` set), where that is a failure: CI must not silently test less.
"""

import uuid

from prerequisites import missing
from server_support import MODEL, POSTGRES_URL as URL, Api, model_archive, postgres_reachable, postgres_schema

from dynalab.testing.server_process import ServerProcess

if not postgres_reachable(URL):
    missing(f"no PostgreSQL at {URL} (run .ci/postgres-setup)", module=True)


def test_uploads_and_the_quota_live_in_postgresql_across_a_restart(tmp_path):
    server = ServerProcess(tmp_path / "data", extra_args=["--database-url", URL])
    with server:
        server.cli("set-quota", "nli", "--reset", "--database-url", URL)  # the database outlives the test
        email = f"pg-{uuid.uuid4().hex[:12]}@example.org"
        result = server.cli("add-user", email, "--database-url", URL)
        assert result.returncode == 0, result.stderr
        api_token = result.stdout.strip().splitlines()[-1]
        api = Api(server.url)
        bearer = api.bearer(api_token)
        for i in range(3):
            assert api.upload(bearer, model_archive(MODEL, "nli", bytes([i]) * 10)).status_code == 200
        server.restart()
        api = Api(server.url)
        bearer = api.bearer(api_token)
        assert api.upload(bearer, model_archive()).status_code == 429
        assert len(api.models(bearer).json()) == 3
    assert not (tmp_path / "data" / "dynalab.sqlite3").exists()


def test_the_migrations_build_the_models_schema_on_postgresql_too():
    import sqlalchemy
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from dynalab.server.db.database import Database
    from dynalab.server.db.models import Base

    with postgres_schema("migrations") as url:  # a schema of its own: the database is shared
        database = Database(url)
        with database.engine.connect() as connection:
            assert connection.execute(sqlalchemy.text("select count(*) from alembic_version")).scalar() == 1
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        database.dispose()
