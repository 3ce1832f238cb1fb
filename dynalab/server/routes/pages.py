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
"""

import asyncio
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from dynalab.server import auth
from dynalab.server.quota import human_duration
from dynalab.server.routes import pages_html as pages
from dynalab.server.web_session import CSRF_FIELD

router = APIRouter()

PAGE = "generate_api_token"  # relative, so that a server mounted under a prefix works too
MAX_FORM_BYTES = 16 * 1024
FAILED_SIGN_IN_DELAY = 1.0
EXPIRED = ("This form has expired, or your browser did not send its cookie: "
           "allow cookies for this site, reload the page and try again.")


@router.get("/generate_api_token", response_class=HTMLResponse)
def show(request: Request):
    sessions = request.app.state.web_sessions
    session = sessions.read(request)
    with request.app.state.db.session() as db_session:
        user = sessions.user(session, db_session)
    if user is not None:
        return _html(pages.account_page(user.email, session.csrf))
    session = session or sessions.anonymous()
    return _html(pages.sign_in_page(session.csrf), session=(request, session))


@router.post("/generate_api_token", response_class=HTMLResponse)
async def act(request: Request):
    state = request.app.state
    sessions = state.web_sessions
    session = sessions.read(request)
    form = await _read_form(request)
    if form is None or not sessions.check_csrf(session, form.get(CSRF_FIELD)):
        fresh = sessions.anonymous()
        problem, status = ("The form is too large.", 413) if form is None else (EXPIRED, 403)
        return _html(pages.sign_in_page(fresh.csrf, problem), status, session=(request, fresh))
    action = form.get("action", "sign_in")
    if action == "sign_in":
        return await _sign_in(request, form, session)
    with state.db.session() as db_session:
        user = sessions.user(session, db_session)
        if user is None:
            return _html(pages.sign_in_page(session.csrf, "Please sign in first."), 401)
        if action == "sign_out":
            return _redirect(request, sessions.anonymous())
        if action != "new_token":
            return _html(pages.account_page(user.email, session.csrf, f"Unknown action {action!r}."), 400)
        if form.get("confirm") != "yes":
            return _html(pages.account_page(
                user.email, session.csrf,
                "Tick the box to confirm: a new token ends the current one everywhere it is used."), 400)
        token = auth.rotate_api_token(db_session, user)
        db_session.commit()
        # A fresh CSRF token: the form posted again (a reload) is refused, not a second new token.
        return _html(pages.token_page(user.email, token), session=(request, sessions.signed_in(user)))


async def _sign_in(request, form, session):
    state = request.app.state
    email, password = form.get("email", "").strip().lower(), form.get("password", "")
    address = request.client.host if request.client else ""
    wait = state.failed_sign_ins.wait(address, email)
    if wait > 0:
        seconds = int(wait) + 1
        page = pages.sign_in_page(session.csrf, f"Too many failed sign-ins for this email or from this address: "
                                  f"try again in {human_duration(seconds)}.", email)
        return _html(page, 429, headers={"Retry-After": str(seconds)})
    user = await run_in_threadpool(_check_password, state.db, email, password)
    if user is None:
        state.failed_sign_ins.failed(address, email)
        await asyncio.sleep(FAILED_SIGN_IN_DELAY)
        return _html(pages.sign_in_page(session.csrf, "Wrong email or password.", email), 401)
    state.failed_sign_ins.succeeded(email)
    return _redirect(request, state.web_sessions.signed_in(user))  # a new session: no fixation


def _check_password(db, email, password):
    """The user if the password is right, else None; as slow for an unknown email."""
    with db.session() as session:
        user = db.user_by_email(session, email) if email else None
        right = auth.check_password(password, user.password_hash if user else None)
        return user if right else None


async def _read_form(request):
    """The urlencoded form as {name: first value}, or None if it is too large."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _redirect(request, session):
    response = RedirectResponse(PAGE, status_code=303, headers=pages.SECURITY_HEADERS)
    request.app.state.web_sessions.save(response, request, session)
    return response


def _html(text, status=200, session=None, headers=None):
    response = HTMLResponse(text, status_code=status, headers={**pages.SECURITY_HEADERS, **(headers or {})})
    if session is not None:
        request, web_session = session
        request.app.state.web_sessions.save(response, request, web_session)
    return response
