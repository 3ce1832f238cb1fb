"""The schema changes through migrations: a data dir made by 0.2.0 upgrades with nothing lost."""

import sqlite3
import tarfile
from pathlib import Path

import requests
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from dynalab.server.db.database import Database
from dynalab.server.db.migrate import head_revision
from dynalab.server.db.models import Base
from dynalab.testing.server_process import ServerProcess

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "datadir-0.2.0.tar.gz"
ALICE_TOKEN = "lR_fw0KsQz2IH5vPNZdiZLYxpJEDqsYPxTWDi3_IaeY"  # see fixtures/README.md
BOB_TOKEN = "f7w_UtwJROybS_hKIVHQ1IX-y-oQwI5z05n8ZqvWbbI"


def old_data_dir(tmp_path):
    with tarfile.open(FIXTURE) as archive:
        archive.extractall(tmp_path, filter="data")
    return tmp_path / "data"


def test_the_migrations_build_exactly_the_schema_the_models_declare(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'new.sqlite3'}")
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    database.dispose()
    assert differences == []


def test_a_data_dir_of_0_2_0_upgrades_when_the_server_starts_with_nothing_lost(tmp_path):
    data = old_data_dir(tmp_path)
    with sqlite3.connect(data / "dynalab.sqlite3") as connection:
        tables = {row[0] for row in connection.execute("select name from sqlite_master where type='table'")}
    assert "alembic_version" not in tables  # really a database from before migrations

    with ServerProcess(data, extra_args=["--workers", "0"]) as server:
        assert "database upgraded from revision 0001 to" in server.log()
        for email, token in (("alice@example.org", ALICE_TOKEN), ("bob@example.org", BOB_TOKEN)):
            answer = requests.get(f"{server.url}/authenticate/refresh_from_api", params={"api_token": token})
            assert answer.status_code == 200, (email, answer.text)
        bearer = requests.get(f"{server.url}/authenticate/refresh_from_api",
                              params={"api_token": ALICE_TOKEN}).json()["token"]
        model = requests.get(f"{server.url}/models/1", headers={"Authorization": f"Bearer {bearer}"}).json()
        assert (model["name"], model["task_code"], model["size"]) == ("nli-bow", "nli", 23147)
        assert model["sha256"] == "968fe395db971876250a8551616e32d6da73763185b9b0ce8b048069ce81e5a0"
        # 0.2.0 evaluated nothing: its upload is queued at the first start (this server runs no jobs).
        assert model["status"] == "queued"
        assert [(e["status"], e["detail"]) for e in model["history"]] == [
            ("uploaded", None), ("queued", "queued at the server's start")]
        assert (data / "blobs" / "96" / f"{model['sha256']}.tar.gz").is_file()
        users = server.cli("list-users")
        assert "alice@example.org\tpassword" in users.stdout and "bob@example.org\tno-password" in users.stdout
        assert "nli\t5 uploads / 12 h" in server.cli("list-tasks").stdout

    engine = create_engine(f"sqlite:///{data / 'dynalab.sqlite3'}")
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == head_revision()
    engine.dispose()


def test_a_second_start_finds_nothing_to_upgrade(tmp_path):
    data = old_data_dir(tmp_path)
    with ServerProcess(data) as server:
        server.restart()
        assert server.log().count("database upgraded") == 1
