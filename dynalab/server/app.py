"""The web application: its shared parts, its routes, and errors as JSON ``{"detail": ...}``.

The shared parts are kept on ``app.state``; routes get them through the
``Annotated`` types of ``routes.dependencies``, never from ``app.state``.
"""

import time

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from dynalab import __version__
from dynalab.server.db.database import Database
from dynalab.server.intake.storage import BlobStore
from dynalab.server.intake.upload import UploadIntake
from dynalab.server.leaderboard import BoardCache
from dynalab.server import web
from dynalab.server.routes import api, boards, models, pages, worker_api
from dynalab.server.sign_in_limits import FailedSignIns
from dynalab.server.task_catalog import TaskCatalog
from dynalab.server.web_session import WebSessions


def create_app(settings, db=None, catalog=None, executor=None):
    """The app serving ``settings.data_dir`` (whose folders must exist: ``prepare_data_dir``);
    ``executor`` (``jobs.executor``) is woken when an upload queues its deployment."""
    app = FastAPI(title="Dynalab evaluation server", version=__version__,
                  docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.db = db or Database(settings.database_url)
    app.state.catalog = catalog or TaskCatalog(settings.tasks_dir)
    app.state.executor = executor
    app.state.intake = UploadIntake(settings, app.state.db, app.state.catalog,
                                    BlobStore(settings.blobs_dir), queued=executor.wake if executor else None)
    app.state.web_sessions = WebSessions.from_key_file(settings.session_key_file)
    app.state.failed_sign_ins = FailedSignIns()
    app.state.boards = BoardCache()
    for module in (api, models, pages, boards, worker_api):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    app.middleware("http")(_server_timing)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _internal_error)
    return app


async def _server_timing(request: Request, call_next):
    # How long the server took to answer, for benchmarks and browsers' developer tools.
    started = time.perf_counter()
    response = await call_next(request)
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
    return response


async def _invalid_request(request: Request, error: RequestValidationError):
    # FastAPI's default is a list of dicts; clients print ``detail`` as a line.
    problems = []
    for problem in error.errors():
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
        problems.append(f"{where}: {problem.get('msg', 'invalid')}")
    return JSONResponse({"detail": "invalid request: " + "; ".join(problems)}, status_code=400)


async def _internal_error(request: Request, error: Exception):
    # Starlette re-raises after this answer, so uvicorn still logs the traceback.
    return JSONResponse({"detail": "internal server error (see the server's log)"}, status_code=500)
