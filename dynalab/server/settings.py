"""What one server instance is configured with, and where it keeps its files.

Everything the server writes lives under the data dir::

    DIR/dynalab.sqlite3      the database (unless --database-url names another one)
    DIR/blobs/ab/<sha256>.tar.gz   accepted uploads, content-addressed
    DIR/tmp/                 uploads in flight (emptied at start-up)
    DIR/tasks/*.yaml         extra task definitions served next to the built-in ones
    DIR/server.lock          held while a server runs, so two never share a data dir
    DIR/session.key          the secret that signs web sign-in cookies (made at first start)
"""

from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024**3
# A gzip tar can expand a thousandfold; checking it means reading it through.
DEFAULT_MAX_UNPACKED_BYTES = 20 * 1024**3
DEFAULT_TOKEN_TTL = 3600
DEFAULT_HEADER_TIMEOUT = 10.0
DEFAULT_BODY_TIMEOUT = 30.0
DEFAULT_MAX_CONNECTIONS = 200
DATABASE_FILE = "dynalab.sqlite3"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    database_url: str = ""
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES
    token_ttl: int = DEFAULT_TOKEN_TTL
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    def __post_init__(self):
        object.__setattr__(self, "data_dir", Path(self.data_dir).resolve())
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / DATABASE_FILE}")

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
    def lock_file(self):
        return self.data_dir / "server.lock"

    @property
    def session_key_file(self):
        return self.data_dir / "session.key"
