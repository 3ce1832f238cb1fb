"""What one server instance is configured with, and where it keeps its files.

Each setting comes from its ``dynalab-server`` option, else from the
environment variable ``DYNALAB_SERVER_<NAME>`` (``--max-upload-bytes`` is
``DYNALAB_SERVER_MAX_UPLOAD_BYTES``), else from its default: pydantic-settings
reads and checks them. Everything the server writes lives under the data dir::

    DIR/dynalab.sqlite3      the database (unless --database-url names another one)
    DIR/blobs/ab/<sha256>.tar.gz   accepted uploads, content-addressed
    DIR/tmp/                 uploads in flight (emptied at start-up)
    DIR/tasks/*.yaml         extra task definitions served next to the built-in ones
    DIR/datasets/<sha256>.jsonl    the evaluation datasets, content-addressed (add-dataset)
    DIR/scratch/job-*/       each running job's unpacked model (removed after it, swept at start-up)
    DIR/server.lock          held while a server runs, so two never share a data dir
    DIR/session.key          the secret that signs web sign-in cookies (made at first start)
"""

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from dynalab.errors import UsageError

ENV_PREFIX = "DYNALAB_SERVER_"
DATABASE_FILE = "dynalab.sqlite3"


def sqlite_url(data_dir):
    """The database used unless another is named: a SQLite file in the data dir."""
    return f"sqlite:///{data_dir / DATABASE_FILE}"


def option_flag(name):
    """The command-line option of setting ``name``."""
    return "--" + name.replace("_", "-")


def env_variable(name):
    """The environment variable of setting ``name``."""
    return ENV_PREFIX + name.upper()


class Settings(BaseSettings):
    """One server's settings; each field's description is its option's help."""

    # An empty variable counts as unset: DYNALAB_SERVER_DATA_DIR= must not mean the current folder.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, frozen=True)

    data_dir: Path = Field(description="folder for the database, uploads and task files")
    database_url: str = Field(
        "", validate_default=True,
        description="SQLAlchemy database URL (default: SQLite file DATA_DIR/dynalab.sqlite3)")
    host: str = Field("127.0.0.1", description="address to listen on (default 127.0.0.1)")
    port: int = Field(8000, description="port (default 8000; 0 picks a free one)")
    max_upload_bytes: int = Field(2 * 1024**3, gt=0, description="largest accepted archive (default 2 GiB)")
    # A gzip tar can expand a thousandfold; checking it means reading it through.
    max_unpacked_bytes: int = Field(
        20 * 1024**3, gt=0,
        description="largest total size of an archive's files once unpacked (default 20 GiB)")
    token_ttl: int = Field(3600, gt=0, description="lifetime of bearer tokens in seconds (default 3600)")
    header_timeout: float = Field(
        10.0, gt=0, description="time a connection has to send a request's headers (default 10)")
    body_timeout: float = Field(
        30.0, gt=0, description="longest silence allowed while a request body is sent (default 30)")
    max_connections: int = Field(
        200, gt=0, description="connections served at once; requests past it get HTTP 503 (default 200)")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="what the server logs (default info)")
    workers: int = Field(
        1, ge=0, description="jobs (deployments, evaluations) run at once by the server's embedded worker "
                             "(default 1; 0: none run, they wait in the queue)")
    backend: Literal["sandbox", "docker"] = Field(
        "sandbox", description="where uploaded models run: sandbox or docker (default sandbox)")

    broker: str = Field(
        "", description="Celery broker URL, e.g. redis://127.0.0.1:6379/0: jobs go to `dynalab-server worker` "
                        "processes instead of the embedded worker (default: none, the embedded worker runs them)")
    smtp_url: str = Field(
        "", description="mail server, smtp://HOST:PORT: the uploader gets an email when their model is "
                        "evaluated or failed (default: no email)")
    smtp_from: str = Field("", description="sender of those emails (default dynalab@<this host's name>)")
    webhook_url: str = Field(
        "", description="URL to POST the same news to, as JSON, e.g. for a lab's chat or CI (default: none)")
    public_url: str = Field(
        "", description="this server's URL as its users reach it, for the links in notifications "
                        "(default http://HOST:PORT)")
    lease_seconds: float = Field(
        60.0, gt=0, description="seconds a job's worker may stay silent before its job is taken up by another "
                                "(default 60; workers are heard from every 10 s, or a quarter of this)")

    @field_validator("smtp_url")
    @classmethod
    def _smtp(cls, url):
        from dynalab.server.notifications import check_smtp_url

        return check_smtp_url(url) if url else url

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, data_dir):
        return data_dir.resolve()

    @field_validator("database_url")
    @classmethod
    def _sqlite_in_the_data_dir_by_default(cls, url, info: ValidationInfo):
        if url or "data_dir" not in info.data:
            return url
        return sqlite_url(info.data["data_dir"])

    @property
    def blobs_dir(self):
        return self.data_dir / "blobs"

    @property
    def tmp_dir(self):
        return self.data_dir / "tmp"

    @property
    def tasks_dir(self):
        return self.data_dir / "tasks"

    @property
    def datasets_dir(self):
        return self.data_dir / "datasets"

    @property
    def scratch_dir(self):
        return self.data_dir / "scratch"

    @property
    def lock_file(self):
        return self.data_dir / "server.lock"

    @property
    def session_key_file(self):
        return self.data_dir / "session.key"


def load_settings(options):
    """The ``Settings`` of ``options`` (given on the command line, by field name), then of the
    environment, then the defaults. A missing or bad value is a ``UsageError`` that names
    the option or the environment variable it came from."""
    try:
        return Settings(**options)
    except ValidationError as error:
        problem = error.errors()[0]
        name = problem["loc"][0]
        where = option_flag(name) if name in options else env_variable(name)
        if problem["type"] == "missing":
            raise UsageError(f"no {name.replace('_', ' ')} given",
                             hint=f"give {option_flag(name)} or set {env_variable(name)}") from None
        if problem["type"] == "greater_than":
            raise UsageError(f"{where} must be a positive number, not {problem['input']}") from None
        if problem["type"] == "greater_than_equal":
            raise UsageError(f"{where} must be {problem['ctx']['ge']} or more, not {problem['input']}") from None
        reason = problem["msg"][:1].lower() + problem["msg"][1:]  # pydantic's "Input should be ..."
        raise UsageError(f"{where} is {problem['input']!r}: {reason}") from None
