"""Running the app with uvicorn and its embedded worker: one server per data dir, a ready line,
no secrets in logs.

The socket is bound here, before uvicorn starts, so that ``--port 0`` works
(the line printed once serving names the port the system chose) and a busy
port is one clear error rather than a log record. Connections are limited in
number (past ``max_connections``, requests get a 503) and in patience (see
``http_timeouts``).
"""

import fcntl
import logging
import socket
from urllib.parse import unquote_plus

import uvicorn

from dynalab.errors import UsageError
from dynalab.server.app import create_app
from dynalab.server.db.database import open_database
from dynalab.server.http_timeouts import protocol_class
from dynalab.server.intake.storage import prepare_data_dir
from dynalab.server.jobs.executor import EmbeddedExecutor
from dynalab.server.jobs.protocol import HEARTBEAT_SECONDS
from dynalab.server.notifications import Notifier
from dynalab.server.task_catalog import load_catalog

SECRET_PARAMETERS = {"api_token"}

READY_PREFIX = "Dynalab server ready at "


def serve(settings):
    log_level = settings.log_level
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s:     %(name)s: %(message)s")
    with _data_dir_lock(settings):
        prepare_data_dir(settings)
        if settings.backend == "docker":
            remove_leftover_containers(settings.scratch_dir)
        catalog = load_catalog(settings.tasks_dir)
        sock = _listen(settings.host, settings.port)  # a busy port fails before anything is changed
        db = open_database(settings.database_url)
        before, after = db.revisions
        if before != after:
            logging.getLogger("dynalab.server").info(
                "database upgraded from revision %s to %s", before or "(empty)", after)
        executor = _executor(db, settings, catalog)
        app = create_app(settings, db=db, catalog=catalog, executor=executor)
        config = uvicorn.Config(
            app, log_level=log_level, timeout_graceful_shutdown=5, server_header=False,
            http=protocol_class(settings.header_timeout, settings.body_timeout),
            limit_concurrency=settings.max_connections,
        )
        logging.getLogger("uvicorn.access").addFilter(_redact_tokens)
        notifier = _notifier(db, settings, sock)
        notifier.start()
        executor.start()  # takes up the jobs a previous run left unfinished, before serving
        try:
            _Server(config, settings).run(sockets=[sock])
        finally:
            executor.stop()
            notifier.stop()
            db.dispose()


def remove_leftover_containers(scratch_dir):
    """A killed server's (or worker's) job containers are still running: they go before any job starts again."""
    from dynalab.errors import IntegratedTestFailed
    from dynalab.server.jobs import work

    try:
        removed = work.remove_leftover_containers(scratch_dir)
    except IntegratedTestFailed as error:  # no Docker: the jobs will say so, as infrastructure failures
        logging.getLogger("dynalab.server").warning("%s", error)
        return
    if removed:
        logging.getLogger("dynalab.server").info("removed %d container(s) left by jobs of an earlier run", removed)


def _notifier(db, settings, sock):
    host, port = sock.getsockname()[:2]
    public_url = settings.public_url or f"http://{f'[{host}]' if ':' in host else host}:{port}"
    return Notifier(db, public_url, smtp_url=settings.smtp_url, smtp_from=settings.smtp_from,
                    webhook_url=settings.webhook_url)


def _executor(db, settings, catalog):
    """Celery workers with ``--broker``, else the embedded worker."""
    if settings.broker:
        from dynalab.server.jobs.celery_executor import CeleryExecutor  # celery is needed only here

        return CeleryExecutor(db, settings, catalog, settings.broker, lease_seconds=settings.lease_seconds)
    function = job_function()
    return EmbeddedExecutor(db, settings, catalog, function, backend=settings.backend,
                            workers=settings.workers if function else 0, lease_seconds=settings.lease_seconds,
                            heartbeat_seconds=min(HEARTBEAT_SECONDS, settings.lease_seconds / 4))


def job_function():
    """``jobs.work.run_job``, or None in a version without it."""
    try:
        from dynalab.server.jobs.work import run_job
    except ModuleNotFoundError as error:
        if error.name != "dynalab.server.jobs.work":
            raise
        logging.getLogger("dynalab.server").warning("no job function in this version: jobs stay queued")
        return None
    return run_job


class _Server(uvicorn.Server):
    def __init__(self, config, settings):
        super().__init__(config)
        self.settings = settings

    async def startup(self, sockets=None):
        await super().startup(sockets=sockets)
        if self.started:
            host, port = sockets[0].getsockname()[:2]
            shown = f"[{host}]" if ":" in host else host
            print(f"{READY_PREFIX}http://{shown}:{port} (data dir {self.settings.data_dir})", flush=True)


def _listen(host, port):
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as error:
        raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}",
                         hint="choose another --port (0 picks a free one) or stop what is using it")
    sock.set_inheritable(True)
    return sock


class _data_dir_lock:
    """An exclusive lock on DIR/server.lock: two servers sharing ``tmp/`` would delete each other's uploads."""

    def __init__(self, settings):
        self.path = settings.lock_file
        self.file = None

    def __enter__(self):
        self.file = open(self.path, "a")
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise UsageError(f"another server is already running on data dir {self.path.parent}",
                             hint="stop it first, or give this one another --data-dir")
        return self

    def __exit__(self, *exc):
        self.file.close()


def _redact_tokens(record):
    """Keep API tokens (sent in the query string, as Dynabench's API wants) out of the access log."""
    if record.args and isinstance(record.args, tuple):
        record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
    return True


def redact_query(text):
    """``text`` with the value of every secret query parameter replaced by ``***``.

    Names are compared once decoded, as the app decodes them: ``api%5Ftoken``
    is ``api_token`` too.
    """
    path, mark, query = text.partition("?")
    if not mark:
        return text
    pairs = []
    for pair in query.split("&"):
        name, equals, _ = pair.partition("=")
        if equals and unquote_plus(name) in SECRET_PARAMETERS:
            pair = f"{name}=***"
        pairs.append(pair)
    return path + mark + "&".join(pairs)
