"""Model uploads: ``POST /models/upload/s3`` (Dynabench's name), their status, their page, their log, publishing.

``GET /models/{id}`` is one address for people and programs: a browser
(``Accept: text/html``) gets the model's page, an API client its JSON.
A published model is public; an unpublished one is its owner's only (the
bearer token of an API client, the signed-in session of a browser).
The owner publishes with ``PUT /models/{id}/publish`` (bearer) or the
page's form (``POST``, session and CSRF token), and likewise unpublishes and
edits the card (``POST /models/{id}/card``).
"""

import logging
from urllib.parse import parse_qs

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.requests import ClientDisconnect

from dynalab.server import publishing, web
from dynalab.server.db.models import Upload, User
from dynalab.server.intake.upload import UploadRefused
from dynalab.server.leaderboard import owner_name, standing
from dynalab.server.model_view import model_json, model_log
from dynalab.server.routes.dependencies import (BEARER_HELP, BearerUser, Catalog, DbSession, Intake, Sessions, Viewer,
                                               get_boards, unauthorized)
from dynalab.server.web_session import CSRF_FIELD
from dynalab.sizes import human_size

log = logging.getLogger("dynalab.server")

router = APIRouter()

MAX_ID = 2**63 - 1  # the largest integer SQLite and PostgreSQL keys hold
MAX_FORM_BYTES = 64 * 1024  # the card form: a description of 5,000 characters, percent-encoded
NOTICES = {"published": "Published: the model is on its task's leaderboard, and this page is public.",
           "unpublished": "Unpublished: the model is off the leaderboard, and this page is yours only.",
           "card": "The model card is saved."}


@router.post("/models/upload/s3")
async def upload_model(request: Request, user: BearerUser, intake: Intake):
    """Multipart form: ``name``, ``taskCode``, optionally ``card`` (JSON) and the file ``tarball`` (a .tar.gz),
    read as a stream by the intake (not declared as ``Form`` fields: FastAPI would spool the file first)."""
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
def model_status(model_id: int, request: Request, viewer: Viewer, session: DbSession, catalog: Catalog,
                 sessions: Sessions):
    """The model's page for a browser; for an API client, its state, failure, datasets, metrics and
    history (``model_view.model_json``)."""
    if web.wants_html(request):
        return _page(request, session, catalog, sessions, viewer, model_id)
    if viewer is None and not _published(session, model_id):
        raise unauthorized(f"missing bearer token: {BEARER_HELP}")
    return model_json(session, _visible_model(session, viewer, model_id))


@router.get("/models/{model_id}/log", response_class=PlainTextResponse)
def model_status_log(model_id: int, viewer: Viewer, session: DbSession):
    """The logs of the model's deployment and evaluations, as text (its owner only)."""
    if viewer is None:
        raise unauthorized(f"missing bearer token: {BEARER_HELP}")
    return PlainTextResponse(model_log(session, _own_model(session, viewer, model_id)))


@router.put("/models/{model_id}/publish")
def publish_model(model_id: int, user: BearerUser, session: DbSession):
    """Put the owner's evaluated model on its leaderboard (409 with the reason when it is not evaluated)."""
    return _change(session, _own_model(session, user, model_id), publishing.publish)


@router.put("/models/{model_id}/unpublish")
def unpublish_model(model_id: int, user: BearerUser, session: DbSession):
    return _change(session, _own_model(session, user, model_id), publishing.unpublish)


@router.post("/models/{model_id}/publish")
async def publish_from_page(model_id: int, request: Request, session: DbSession, catalog: Catalog,
                            sessions: Sessions):
    return await _page_action(request, session, catalog, sessions, model_id, "published", publishing.publish)


@router.post("/models/{model_id}/unpublish")
async def unpublish_from_page(model_id: int, request: Request, session: DbSession, catalog: Catalog,
                              sessions: Sessions):
    return await _page_action(request, session, catalog, sessions, model_id, "unpublished", publishing.unpublish)


@router.post("/models/{model_id}/card")
async def edit_card(model_id: int, request: Request, session: DbSession, catalog: Catalog, sessions: Sessions):
    def save(model, form):
        publishing.set_card(model, {"description": form.get("description", "").replace("\r\n", "\n").strip(),
                                    "paper_url": form.get("paper_url", "").strip(),
                                    "code_url": form.get("code_url", "").strip(),
                                    "license": form.get("license", "").strip(),
                                    "anonymous": form.get("anonymous") == "yes"}, "the card")

    return await _page_action(request, session, catalog, sessions, model_id, "card", save, with_form=True)


def _change(session, model, change):
    try:
        change(model)
    except publishing.Refused as refusal:
        raise HTTPException(status_code=409, detail=str(refusal)) from None
    session.commit()
    return model.as_json()


async def _page_action(request, session, catalog, sessions, model_id, done, change, with_form=False):
    """A form of the model's page: checked (size, CSRF, owner), applied, then back to the page."""
    form = await _read_form(request)
    if form is None:
        return web.page("message.html", 413, title="Form too large", root="../../", here="",
                        message="The form is too large.")
    browser = sessions.read(request)
    user = sessions.user(browser, session)
    if user is None or not sessions.check_csrf(browser, form.get(CSRF_FIELD)):
        return web.page("message.html", 403, title="Please sign in again", root="../../", sign_in=True,
                        here=f"models/{model_id}",
                        message="This form has expired, or you are signed out: sign in, then try again.")
    model = _own_model(session, user, model_id, html=True)
    if isinstance(model, Response):
        return model
    try:
        change(model, form) if with_form else change(model)
    except publishing.Refused as refusal:
        session.rollback()
        card = {**{k: form.get(k, "") for k in ("description", "paper_url", "code_url", "license")},
                "anonymous": form.get("anonymous") == "yes"} if with_form else None
        return _page(request, session, catalog, sessions, user, model_id, error=str(refusal),
                     status=400 if with_form else 409, card=card, root="../../")
    session.commit()
    return RedirectResponse(f"../{model_id}?done={done}", status_code=303, headers={"Cache-Control": "no-store"})


async def _read_form(request):
    """The url-encoded form of ``request`` as {field: value}, or None when it passes ``MAX_FORM_BYTES``."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in fields.items()}


def _page(request, session, catalog, sessions, viewer, model_id, error=None, status=200, card=None, root="../"):
    model = session.get(Upload, model_id) if 0 < model_id <= MAX_ID else None
    is_owner = model is not None and viewer is not None and model.user_id == viewer.id
    if model is None or not (model.published or is_owner):
        return web.page("message.html", 404, title="No such model", root=root, here=f"models/{model_id}",
                        sign_in=viewer is None, signed_in=viewer is not None,
                        message=f"There is no published model {model_id}."
                                + (" If it is yours, sign in to see it." if viewer is None else ""))
    definition = catalog.definitions.get(model.task_code, {})
    metrics = definition.get("metrics") or {}
    main = metrics.get("main")
    view = model_json(session, model)
    names = [main] + list(metrics.get("others", [])) if main else []
    names += sorted({name for entry in view["datasets"] for name in entry["metrics"]} - set(names))
    email = session.scalar(select(User.email).where(User.id == model.user_id))
    browser = sessions.read(request)
    notice = NOTICES.get(request.query_params.get("done", "")) if not error else None
    return web.page(
        "model.html", status, private=is_owner, title=model.name, root=root, here=f"models/{model_id}",
        model=view, card=model.card, form_card=card or model.card, owner=owner_name(model.card_anonymous, email), is_owner=is_owner,
        csrf=browser.csrf if is_owner and browser else "", log=model_log(session, model) if is_owner else "",
        task_name=definition.get("name", model.task_code), main=main, metric_names=names,
        size=human_size(model.size), notice=notice, error=error, card_errors=bool(error and card),
        standing=standing(get_boards(request), session, catalog, model),
        signed_in=viewer is not None)


def _published(session, model_id):
    model = session.get(Upload, model_id) if 0 < model_id <= MAX_ID else None
    return model is not None and model.published


def _visible_model(session, viewer, model_id):
    """The model if it is published or ``viewer``'s; 404 otherwise."""
    upload = session.get(Upload, model_id) if 0 < model_id <= MAX_ID else None
    if upload is not None and (upload.published or (viewer is not None and upload.user_id == viewer.id)):
        return upload
    raise HTTPException(status_code=404, detail=f"you have no uploaded model with id {model_id}")


def _own_model(session, user, model_id, html=False):
    upload = session.get(Upload, model_id) if 0 < model_id <= MAX_ID else None
    if upload is None or upload.user_id != user.id:
        if html:
            return web.page("message.html", 404, title="No such model", root="../../", here="",
                            message=f"You have no uploaded model with id {model_id}.")
        raise HTTPException(status_code=404, detail=f"you have no uploaded model with id {model_id}")
    return upload
