"""Calls to a Dynabench-compatible evaluation server, and what its answers mean.

Every HTTP failure is turned into a ``DynalabError`` here, in ``check_response``
and ``send``, so the rest of the client never looks at status codes.

Each public call takes an optional ``session``; without one it makes its own
(``own_session``) and closes it before returning.
"""

import contextlib
import datetime
import email.utils
import os
import re
from typing import NamedTuple
from urllib.parse import urlsplit

import requests

from dynalab.client import auth
from dynalab.client.session import TIMEOUT, is_loopback, make_session
from dynalab.project import settings
from dynalab.errors import AuthError, PublishRefused, ServerError, Throttled, UploadError, UsageError

API_URL_ENV = "DYNALAB_API_URL"
DEFAULT_API_URL = "http://127.0.0.1:8000"
"""A server started with ``dynalab-server run`` on this machine."""

ALLOW_HTTP_ENV = "DYNALAB_ALLOW_HTTP"
LOGIN_AGAIN = "log in again: dynalab-cli login"


class Server(NamedTuple):
    """An evaluation server's address, and who named it."""

    url: str
    source: str
    """Where the address was found: a flag, a variable, a file, "login" or "default"."""
    user_named: bool
    """False when only the project's config names it: a token that ``login`` did not
    bind to this server is never sent there (a pull request could edit the config)."""


def resolve_server(flag=None, config_value=None, config_source="config"):
    """The server to talk to, as a ``Server``: ``flag`` > ``$DYNALAB_API_URL`` >
    ``config_value`` (the model config's ``api_url``) > the user's settings > the server
    of the last ``login`` > the default.

    Raises ``UsageError`` for an address that is not an http(s) URL.
    """
    found = settings.resolve("api_url", {"api_url": config_value}, config_source, flag=flag, flag_name="--api-url")
    login_url = auth.saved_api_url()
    if found.value is None:
        found = settings.Resolved(login_url, "login") if login_url else settings.Resolved(DEFAULT_API_URL, "default")
    url = _checked_url(found.value, found.source)
    named_elsewhere = {_normal(value) for value in (settings.user_value("api_url"), login_url, DEFAULT_API_URL) if value}
    return Server(url, found.source, found.source != config_source or url in named_elsewhere)


def resolve_api_url(flag=None, config_value=None):
    """The address of ``resolve_server``."""
    return resolve_server(flag, config_value).url


def _normal(url):
    return str(url).strip().rstrip("/")


def _checked_url(value, source):
    url = _normal(value)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"server address {url!r} (from {source}) is not an http(s) URL",
            hint="e.g. http://127.0.0.1:8000 or https://api.dynabench.org",
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname) and not os.environ.get(ALLOW_HTTP_ENV):
        # Tokens travel in the clear over http: only this machine may be spoken to that way.
        raise UsageError(
            f"server address {url!r} (from {source}) uses plain http to another machine",
            hint=f"use https, or set {ALLOW_HTTP_ENV}=1 for a server on a network you trust",
        )
    return url


@contextlib.contextmanager
def own_session(session=None):
    """``session`` itself, or a new ``make_session()`` session closed on leaving the block."""
    if session is not None:
        yield session
        return
    with make_session() as new:
        yield new


REACH_TIMEOUT = (5, 10)
"""(connect, read) seconds of the one quick look that a server is there."""


def check_reachable(url, session=None):
    """Raise ``ServerError`` at once, without retries, when no server answers at ``url``.

    Any HTTP answer will do: it is asked before a person is made to paste a token.
    """
    if session is None:
        with make_session(retries=0) as quick:
            return check_reachable(url, quick)
    response = send(session, "GET", url, "/", timeout=REACH_TIMEOUT, allow_redirects=False, stream=True)
    response.close()
    return None


def check_token(url, token, session=None):
    """Check ``token`` against the server; raises ``AuthError`` if it is unknown."""
    try:
        bearer(url, token, session=session)
    except AuthError:
        raise AuthError(
            f"the server at {url} does not accept this API token",
            hint=f"copy the token again from {url}/generate_api_token, with no spaces around it",
        ) from None


def bearer(url, api_token, session=None):
    """Exchange the long-lived API token for a short-lived bearer token."""
    try:
        with own_session(session) as session:
            response = send(
                session, "GET", url, "/authenticate/refresh_from_api", params={"api_token": api_token}, timeout=TIMEOUT
            )
    except ServerError as error:
        # The chained requests error quotes the URL, whose query holds the API token.
        raise ServerError(str(error), hint=error.hint) from None
    check_response(response, url)
    token = json_body(response, url).get("token")
    if not isinstance(token, str) or not token:
        raise ServerError(f"the server at {url} answered the login without a token", hint=_is_it_dynabench(url))
    return token


def fetch_tasks(url, session=None, timeout=TIMEOUT):
    """The raw task list ``GET /tasks/submitable``: dicts with ``task_code``, ``config_yaml``, ..."""
    with own_session(session) as session:
        response = send(session, "GET", url, "/tasks/submitable", timeout=timeout)
    check_response(response, url)
    tasks = json_body(response, url)
    if not isinstance(tasks, list):
        raise ServerError(f"the server at {url} sent a task list that is not a list", hint=_is_it_dynabench(url))
    return [task for task in tasks if isinstance(task, dict) and task.get("task_code")]


def model_status(url, api_token, model_id, session=None):
    """What the server knows of an uploaded model (``GET /models/<id>``), as a dict."""
    with own_session(session) as session:
        headers = {"Authorization": f"Bearer {bearer(url, api_token, session=session)}"}
        response = send(session, "GET", url, f"/models/{model_id}", headers=headers, timeout=TIMEOUT)
    check_response(response, url)
    return json_body(response, url)


def list_models(url, api_token, session=None, *, bearer_token=None):
    """The models this token's user has uploaded (``GET /models``), newest first.

    A caller already holding a ``bearer_token`` passes it instead of ``api_token``.
    """
    with own_session(session) as session:
        token = bearer_token or bearer(url, api_token, session=session)
        response = send(session, "GET", url, "/models", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    check_response(response, url)
    return json_body(response, url)


def latest_upload(url, bearer_token, name, session=None):
    """The server's record of the latest upload of model ``name`` by this token's user (``GET /models``)."""
    models = list_models(url, None, session=session, bearer_token=bearer_token)
    mine = [model for model in models if isinstance(model, dict) and model.get("name") == name]
    if not mine:
        raise UsageError(f"the server at {url} has no upload of model {name!r} from you",
                         hint=f"upload it first: dynalab-cli upload -n {name}")
    return max(mine, key=lambda model: model.get("model_id") or 0)


def set_published(url, api_token, name, published, session=None):
    """Publish (or unpublish) the latest upload of model ``name``; the server's record of it after.

    Raises ``PublishRefused`` with the server's reason when it is not evaluated yet.
    """
    with own_session(session) as session:
        token = bearer(url, api_token, session=session)
        model = latest_upload(url, token, name, session=session)
        action = "publish" if published else "unpublish"
        response = send(session, "PUT", url, f"/models/{model['model_id']}/{action}",
                        headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    if response.status_code == 409:
        raise PublishRefused(f"the server at {url} refused to publish {name!r}: {server_detail(response)}",
                             hint=f"see where it is: {url}/models/{model['model_id']}")
    check_response(response, url)
    return json_body(response, url)


def send(session, method, url, path, **kwargs):
    """``session.request`` on ``url + path``; an unreachable server is a ``ServerError``.

    ``session`` is the caller's (see ``own_session``): ``send`` never makes one.
    """
    try:
        return session.request(method, url + path, **kwargs)
    except requests.ReadTimeout as error:
        raise ServerError(
            f"the evaluation server at {url} did not answer {method} {path} in time",
            hint="it may be overloaded; try again later",
        ) from error
    except (requests.ConnectionError, requests.Timeout) as error:
        raise ServerError(
            f"cannot reach the evaluation server at {url} ({connection_failure(error)})",
            hint=f"check the address (--api-url or {API_URL_ENV}) and that the server is running",
        ) from error


def check_response(response, url):
    """Raise the ``DynalabError`` an unsuccessful answer means; return successful ones."""
    status = response.status_code
    if status < 400:
        return response
    detail = server_detail(response)
    if status == 401:
        raise AuthError(
            f"the server at {url} rejected the API token: {LOGIN_AGAIN}",
            hint=f"a token stops working when it is rotated; the current one is at {url}/generate_api_token",
        )
    if status == 429:
        raise throttled(response, detail)
    if status == 403:  # e.g. a task that takes no uploads: the server's reason says which
        raise UploadError(f"the server at {url} refused: {detail or 'forbidden'}")
    if status == 413:
        raise UploadError(
            f"the server at {url} refused the archive as too large: {detail or 'no reason given'}",
            hint="exclude data the model does not need (`exclude` in the config)",
        )
    if status in (400, 422):
        raise UploadError(f"the server at {url} refused the upload: {detail or 'no reason given'}")
    if status == 404:
        if detail in ("", "Not Found"):  # no such route: not the server we expect
            # Without the query: it may hold the API token.
            where = urlsplit(response.url)._replace(query="").geturl()
            raise ServerError(f"{where} was not found (HTTP 404)", hint=_is_it_dynabench(url))
        raise UsageError(f"the server at {url} says: {detail}")
    if status >= 500:
        raise ServerError(
            f"the evaluation server at {url} failed (HTTP {status}{': ' + detail if detail else ''})",
            hint="try again later; if it persists, tell the server's administrator",
        )
    raise ServerError(f"the server at {url} answered HTTP {status}: {detail or response.reason}")


def throttled(response, detail):
    """A ``Throttled`` error saying what the quota is and, in hours and minutes, when the
    next slot opens.

    ``retry_after`` (seconds) and ``next_slot`` (an aware UTC datetime) are set
    when the server sent a ``Retry-After`` header.
    """
    seconds = retry_after_seconds(response.headers.get("Retry-After"))
    body = _json_or_none(response)
    limit, hours = (body.get("limit"), body.get("hours")) if isinstance(body, dict) else (None, None)
    if isinstance(limit, int) and isinstance(hours, (int, float)):
        message = f"upload quota reached: at most {limit} uploads per {hours:g} hours"
    else:  # a server that only sends text: its seconds, made readable
        message = re.sub(r"\b(\d+) seconds?\b", lambda m: human_duration(int(m.group(1))), detail) or "upload quota reached"
    hint = None
    next_slot = None
    if seconds is not None:
        next_slot = _now() + datetime.timedelta(seconds=seconds)
        when = f"{next_slot:%Y-%m-%d %H:%M} UTC"
        if "next" not in message.lower():  # a server's own text may already say when
            message = f"{message}; the next slot opens at {when} (in {human_duration(seconds)})"
        hint = f"upload again after {when}, in {human_duration(seconds)}; tests do not count, only uploads"
    error = Throttled(message, hint=hint)
    error.retry_after = seconds
    error.next_slot = next_slot
    return error


def retry_after_seconds(value):
    """``Retry-After`` (delta-seconds or an HTTP date) as whole seconds from now, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0, int((when - _now()).total_seconds()))


def server_detail(response):
    """The reason a server gave: FastAPI's ``{"detail": ...}``, or the start of the text."""
    try:
        body = response.json()
    except ValueError:
        return " ".join(response.text.split())[:300]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, dict):
        detail = detail.get("message") or detail.get("detail") or detail
    if isinstance(detail, list):
        # FastAPI validation errors: [{"loc": [...], "msg": ...}, ...]
        detail = "; ".join(_validation_error(item) for item in detail)
    return str(detail)


def _validation_error(item):
    if not isinstance(item, dict):
        return str(item)
    return f"{'.'.join(str(part) for part in item.get('loc', []))}: {item.get('msg')}"


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


def json_body(response, url):
    """The JSON body of ``response``; an answer that is not JSON is a ``ServerError``."""
    try:
        return response.json()
    except ValueError:
        raise ServerError(f"the server at {url} sent an answer that is not JSON", hint=_is_it_dynabench(url)) from None


def _is_it_dynabench(url):
    return f"is {url} a Dynabench-compatible evaluation server (`dynalab-server run`)?"


def connection_failure(error):
    """A short reason for a failed connection: "connection refused", "connection reset by peer"...

    requests wraps urllib3's error, which wraps the socket's; the socket's
    ``strerror`` is the readable part.
    """
    chain, todo = [], [error]
    while todo and len(chain) < 20:
        current = todo.pop(0)
        if not isinstance(current, BaseException) or any(current is seen for seen in chain):
            continue
        chain.append(current)
        todo += [arg for arg in current.args if isinstance(arg, BaseException)]
        todo += [getattr(current, "reason", None), current.__cause__, current.__context__]
    for cause in reversed(chain):
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror[:1].lower() + cause.strerror[1:]
    text = str(chain[-1])
    return text.split(": ")[-1][:200] or type(error).__name__


def human_duration(seconds):
    """``seconds`` as "23 h 59 min", "5 min", "1 min" (rounded up: a slot never opens later)."""
    minutes = (int(seconds) + 59) // 60
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def _now():
    return datetime.datetime.now(datetime.timezone.utc)
