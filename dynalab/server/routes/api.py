"""Health, the task list, and exchanging an API token for a bearer token."""

from fastapi import APIRouter, Depends, HTTPException, Request

from dynalab import __version__
from dynalab.server import auth
from dynalab.server.routes.dependencies import get_session, unauthorized

router = APIRouter()


@router.get("/health")
def health(request: Request):
    settings = request.app.state.settings
    return {"status": "ok", "version": __version__, "max_upload_bytes": settings.max_upload_bytes}


@router.get("/tasks/submitable")
def submitable_tasks(request: Request, session=Depends(get_session)):
    catalog = request.app.state.catalog
    return [catalog.as_json(session, code) for code in catalog.codes()]


@router.get("/authenticate/refresh_from_api")
def refresh_from_api(request: Request, api_token: str = "", session=Depends(get_session)):
    if not api_token:
        raise HTTPException(status_code=400, detail="missing query parameter api_token")
    user = auth.user_for_api_token(session, api_token)
    if user is None:
        raise unauthorized("unknown API token: sign in at /generate_api_token to get yours")
    ttl = request.app.state.settings.token_ttl
    token = auth.issue_bearer(session, user, ttl)
    session.commit()
    return {"token": token, "expires_in": ttl}
