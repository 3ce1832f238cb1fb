"""What routes ask FastAPI for, as ``Annotated`` types: ``def route(settings: Settings, user: BearerUser)``.

The app's shared parts live on ``app.state`` (``app.create_app`` puts them
there); this module is the one place that reads them.
"""

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from dynalab.server import auth, leaderboard, workers
from dynalab.server import settings as server_settings
from dynalab.server.db import database, models
from dynalab.server.intake import upload
from dynalab.server.sign_in_limits import FailedSignIns
from dynalab.server.task_catalog import TaskCatalog
from dynalab.server.web_session import WebSessions

BEARER_HELP = ("exchange your API token at /authenticate/refresh_from_api?api_token=<token> "
               "and send the result as `Authorization: Bearer <token>`")


def get_settings(request: Request) -> server_settings.Settings:
    return request.app.state.settings


def get_database(request: Request) -> database.Database:
    return request.app.state.db


def get_catalog(request: Request) -> TaskCatalog:
    return request.app.state.catalog


def get_intake(request: Request) -> upload.UploadIntake:
    return request.app.state.intake


def get_web_sessions(request: Request) -> WebSessions:
    return request.app.state.web_sessions


def get_failed_sign_ins(request: Request) -> FailedSignIns:
    return request.app.state.failed_sign_ins


def get_executor(request: Request):
    """The executor (``jobs.executor``) running the jobs, or None."""
    return request.app.state.executor


def get_boards(request: Request) -> leaderboard.BoardCache:
    return request.app.state.boards


Settings = Annotated[server_settings.Settings, Depends(get_settings)]
Executor = Annotated[object, Depends(get_executor)]
Database = Annotated[database.Database, Depends(get_database)]
Catalog = Annotated[TaskCatalog, Depends(get_catalog)]
Intake = Annotated[upload.UploadIntake, Depends(get_intake)]
Sessions = Annotated[WebSessions, Depends(get_web_sessions)]
SignInLimits = Annotated[FailedSignIns, Depends(get_failed_sign_ins)]
Boards = Annotated[leaderboard.BoardCache, Depends(get_boards)]


def get_session(db: Database):
    with db.session() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]


def bearer_user(request: Request, db: Database) -> models.User:
    """The user whose bearer token is in the Authorization header; 401 otherwise.

    Uses a session of its own, closed at once: an upload route must not keep a
    database transaction open while the file arrives.
    """
    # A refused upload's body is not worth reading: close the connection after the answer.
    close = request.method == "POST"
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized(f"missing bearer token: {BEARER_HELP}", close)
    if workers.is_worker_token(token.strip()):
        raise HTTPException(status_code=403, detail="a worker token can only claim jobs, fetch their inputs and "
                                                    "post their results (under /worker)",
                            headers={"Connection": "close"} if close else None)
    with db.session() as session:
        user = auth.user_for_bearer(session, token.strip())
    if user is None:
        raise unauthorized("invalid or expired bearer token: get a new one with your API token "
                           "(with dynalab-cli: log in again)", close)
    return user


BearerUser = Annotated[models.User, Depends(bearer_user)]


def viewer(request: Request, db: Database, sessions: Sessions) -> models.User | None:
    """Who is asking: the bearer token's user when the request has one (401 if it is not valid),
    else the user signed in on the web pages, else None (anyone)."""
    if request.headers.get("authorization"):
        return bearer_user(request, db)
    with db.session() as session:
        return sessions.user(sessions.read(request), session)


Viewer = Annotated[models.User | None, Depends(viewer)]


def unauthorized(detail, close=False):
    headers = {"WWW-Authenticate": "Bearer", **({"Connection": "close"} if close else {})}
    return HTTPException(status_code=401, detail=detail, headers=headers)
