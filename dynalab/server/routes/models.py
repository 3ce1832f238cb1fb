"""Model uploads: ``POST /models/upload/s3`` (Dynabench's name), their status and their log."""

import logging

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import select
from starlette.requests import ClientDisconnect

from dynalab.server.db.models import Upload
from dynalab.server.intake.upload import UploadRefused
from dynalab.server.model_view import model_json, model_log
from dynalab.server.routes.dependencies import BearerUser, DbSession, Intake

log = logging.getLogger("dynalab.server")

router = APIRouter()

MAX_ID = 2**63 - 1  # the largest integer SQLite and PostgreSQL keys hold


@router.post("/models/upload/s3")
async def upload_model(request: Request, user: BearerUser, intake: Intake):
    """Multipart form: ``name``, ``taskCode`` and the file ``tarball`` (a .tar.gz), read as a
    stream by the intake (not declared as ``Form`` fields: FastAPI would spool the file first)."""
    try:
        return await intake.receive(request, user)
    except UploadRefused as refusal:
        return JSONResponse(refusal.body, status_code=refusal.status, headers=refusal.headers)
    except ClientDisconnect:
        log.info("upload by %s interrupted: the client disconnected; nothing was kept", user.email)
        return Response(status_code=400)  # nobody is left to read it


@router.get("/models")
def list_models(user: BearerUser, session: DbSession):
    uploads = session.scalars(
        select(Upload).where(Upload.user_id == user.id).order_by(Upload.id.desc())).all()
    return [upload.as_json() for upload in uploads]


@router.get("/models/{model_id}")
def model_status(model_id: int, user: BearerUser, session: DbSession):
    """The model's state, failure, datasets, metrics and history (``model_view.model_json``)."""
    return model_json(session, _own_model(session, user, model_id))


@router.get("/models/{model_id}/log", response_class=PlainTextResponse)
def model_status_log(model_id: int, user: BearerUser, session: DbSession):
    """The logs of the model's deployment and evaluations, as text (its owner only)."""
    return PlainTextResponse(model_log(session, _own_model(session, user, model_id)))


def _own_model(session, user, model_id):
    upload = session.get(Upload, model_id) if 0 < model_id <= MAX_ID else None
    if upload is None or upload.user_id != user.id:
        raise HTTPException(status_code=404, detail=f"you have no uploaded model with id {model_id}")
    return upload
