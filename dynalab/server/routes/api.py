"""Health, the task list, and exchanging an API token for a bearer token."""

from fastapi import APIRouter, HTTPException

from dynalab import __version__
from dynalab.server import auth
from dynalab.server.routes.dependencies import Catalog, DbSession, Settings, unauthorized

router = APIRouter()


@router.get("/health")
def health(settings: Settings):
    return {"status": "ok", "version": __version__, "max_upload_bytes": settings.max_upload_bytes}


@router.get("/tasks/submitable")
def submitable_tasks(catalog: Catalog, session: DbSession):
    return [catalog.as_json(session, code) for code in catalog.codes()]


@router.get("/authenticate/refresh_from_api")
def refresh_from_api(settings: Settings, session: DbSession, api_token: str = ""):
    if not api_token:
        raise HTTPException(status_code=400, detail="missing query parameter api_token")
    user = auth.user_for_api_token(session, api_token)
    if user is None:
        raise unauthorized("unknown API token: sign in at /generate_api_token to get yours")
    token = auth.issue_bearer(session, user, settings.token_ttl)
    session.commit()
    return {"token": token, "expires_in": settings.token_ttl}
