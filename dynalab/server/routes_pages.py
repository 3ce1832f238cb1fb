"""``/generate_api_token``: sign in with email and password, see a (new) API token."""

import asyncio
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from dynalab.server import auth, pages

router = APIRouter()

MAX_FORM_BYTES = 16 * 1024
# Slows down password guessing without any state to keep.
FAILED_SIGN_IN_DELAY = 1.0


@router.get("/generate_api_token", response_class=HTMLResponse)
def sign_in_form():
    return _html(pages.sign_in_page())


@router.post("/generate_api_token", response_class=HTMLResponse)
async def sign_in(request: Request):
    form = await _read_form(request)
    if form is None:
        return _html(pages.sign_in_page("The form is too large."), 413)
    email, password = form.get("email", "").strip(), form.get("password", "")
    token = await run_in_threadpool(_sign_in, request.app.state.db, email, password)
    if token is None:
        await asyncio.sleep(FAILED_SIGN_IN_DELAY)
        return _html(pages.sign_in_page("Wrong email or password.", email), 401)
    return _html(pages.token_page(email, token))


def _sign_in(db, email, password):
    """A new API token for the user if the password is right, else None."""
    with db.session() as session:
        user = db.user_by_email(session, email) if email else None
        if user is None or not auth.check_password(password, user.password_hash):
            return None
        token = auth.rotate_api_token(session, user)
        session.commit()
        return token


async def _read_form(request):
    """The urlencoded form as {name: first value}, or None if it is too large."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def _html(text, status=200):
    return HTMLResponse(text, status_code=status, headers=pages.SECURITY_HEADERS)
