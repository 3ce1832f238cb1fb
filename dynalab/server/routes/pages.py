"""``/generate_api_token``: sign in with email and password, then manage the API token.

Signing in shows the account page and changes nothing else: a new token is
issued only when asked for, with a confirmation, because it ends the old one
everywhere it is used (other machines, CI jobs). Forms post to the same path
with an ``action`` (``sign_in``, the default, ``new_token`` or ``sign_out``),
carry the session's CSRF token (``web_session``), and are answered by a
redirect when they succeed, so reloading a page never posts again; the page
showing a new token (which cannot be redirected to) renews the CSRF token
instead, so posting its form again is refused.

Password guessing is slowed by a delay after each failure and stopped by
``sign_in_limits``; a wrong password, an unknown email and an account
without password are told apart neither by the answer nor by its timing.

The forms' fields are FastAPI ``Form`` fields (``TokenPageForm``), read
through a request that refuses a body past ``MAX_FORM_BYTES`` as it arrives.
"""

import asyncio
import re
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from dynalab.server import auth
from dynalab.server.quota import human_duration
from dynalab.server.routes import pages_html as pages
from dynalab.server.routes.dependencies import Database, Sessions, SignInLimits, get_web_sessions
from dynalab.server.web_session import CSRF_FIELD

PAGE = "generate_api_token"  # relative, so that a server mounted under a prefix works too
# Where a sign-in may go back to (``next``): a page of this server, named relative to its root.
NEXT_PAGE = re.compile(r"(models/[0-9]{1,19}|tasks/[A-Za-z0-9_.-]{1,100})")
MAX_FORM_BYTES = 16 * 1024
FAILED_SIGN_IN_DELAY = 1.0
EXPIRED = ("This form has expired, or your browser did not send its cookie: "
           "allow cookies for this site, reload the page and try again.")


class FormTooLarge(HTTPException):
    """Raised while a form is read, once it passes ``MAX_FORM_BYTES`` (an ``HTTPException``,
    so that FastAPI passes it on as it is rather than as a parse error)."""

    def __init__(self):
        super().__init__(status_code=413, detail="the form is too large")


class _SizeLimitedRequest(Request):
    async def stream(self):
        size = 0
        async for chunk in super().stream():
            size += len(chunk)
            if size > MAX_FORM_BYTES:
                raise FormTooLarge()
            yield chunk


class _SizeLimitedFormRoute(APIRoute):
    """A route whose form is read through ``_SizeLimitedRequest``; one too large gets the
    sign-in page, with status 413 and a fresh session."""

    def get_route_handler(self):
        handle = super().get_route_handler()

        async def handle_within_limit(request):
            try:
                return await handle(_SizeLimitedRequest(request.scope, request.receive))
            except FormTooLarge:
                sessions = get_web_sessions(request)
                fresh = sessions.anonymous()
                return _saved(_html(pages.sign_in_page(fresh.csrf, "The form is too large."), 413),
                              request, sessions, fresh)

        return handle_within_limit


router = APIRouter(route_class=_SizeLimitedFormRoute)


class TokenPageForm(BaseModel):
    """The fields of the page's forms: each form sends the ones it has."""

    csrf: str = Field("", alias=CSRF_FIELD)
    action: str = "sign_in"
    email: str = ""
    password: str = ""
    confirm: str = ""
    next: str = ""


@router.get("/generate_api_token", response_class=HTMLResponse)
def show(request: Request, sessions: Sessions, db: Database):
    session = sessions.read(request)
    with db.session() as db_session:
        user = sessions.user(session, db_session)
    if user is not None:
        return _html(pages.account_page(user.email, session.csrf))
    session = session or sessions.anonymous()
    next_page = request.query_params.get("next", "")
    next_page = next_page if NEXT_PAGE.fullmatch(next_page) else ""
    return _saved(_html(pages.sign_in_page(session.csrf, next_page=next_page)), request, sessions, session)


@router.post("/generate_api_token", response_class=HTMLResponse)
async def act(request: Request, form: Annotated[TokenPageForm, Form()], sessions: Sessions, db: Database,
              limits: SignInLimits):
    session = sessions.read(request)
    if not sessions.check_csrf(session, form.csrf):
        fresh = sessions.anonymous()
        return _saved(_html(pages.sign_in_page(fresh.csrf, EXPIRED), 403), request, sessions, fresh)
    if form.action == "sign_in":
        return await _sign_in(request, form, session, sessions, db, limits)
    with db.session() as db_session:
        user = sessions.user(session, db_session)
        if user is None:
            return _html(pages.sign_in_page(session.csrf, "Please sign in first."), 401)
        if form.action == "sign_out":
            return _redirect(request, sessions, sessions.anonymous())
        if form.action != "new_token":
            return _html(pages.account_page(user.email, session.csrf, f"Unknown action {form.action!r}."), 400)
        if form.confirm != "yes":
            return _html(pages.account_page(
                user.email, session.csrf,
                "Tick the box to confirm: a new token ends the current one everywhere it is used."), 400)
        token = auth.rotate_api_token(db_session, user)
        db_session.commit()
        # A fresh CSRF token: the form posted again (a reload) is refused, not a second new token.
        return _saved(_html(pages.token_page(user.email, token)), request, sessions, sessions.signed_in(user))


async def _sign_in(request, form, session, sessions, db, limits):
    email, password = form.email.strip().lower(), form.password
    address = request.client.host if request.client else ""
    wait = limits.wait(address, email)
    if wait > 0:
        seconds = int(wait) + 1
        page = pages.sign_in_page(session.csrf, f"Too many failed sign-ins for this email or from this address: "
                                  f"try again in {human_duration(seconds)}.", email)
        return _html(page, 429, headers={"Retry-After": str(seconds)})
    user = await run_in_threadpool(_check_password, db, email, password)
    if user is None:
        limits.failed(address, email)
        await asyncio.sleep(FAILED_SIGN_IN_DELAY)
        next_page = form.next if NEXT_PAGE.fullmatch(form.next) else ""
        return _html(pages.sign_in_page(session.csrf, "Wrong email or password.", email, next_page), 401)
    limits.succeeded(email)
    target = form.next if NEXT_PAGE.fullmatch(form.next) else PAGE
    return _redirect(request, sessions, sessions.signed_in(user), target)  # a new session: no fixation


def _check_password(db, email, password):
    """The user if the password is right, else None; as slow for an unknown email."""
    with db.session() as session:
        user = db.user_by_email(session, email) if email else None
        right = auth.check_password(password, user.password_hash if user else None)
        return user if right else None


def _redirect(request, sessions, session, target=PAGE):
    return _saved(RedirectResponse(target, status_code=303, headers=pages.SECURITY_HEADERS), request, sessions, session)


def _html(text, status=200, headers=None):
    return HTMLResponse(text, status_code=status, headers={**pages.SECURITY_HEADERS, **(headers or {})})


def _saved(response, request, sessions, session):
    """``response``, carrying the cookie of ``session``."""
    sessions.save(response, request, session)
    return response
