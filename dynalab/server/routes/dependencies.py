"""What routes ask FastAPI for: a database session and the signed-in user."""

from fastapi import HTTPException, Request

from dynalab.server import auth

BEARER_HELP = ("exchange your API token at /authenticate/refresh_from_api?api_token=<token> "
               "and send the result as `Authorization: Bearer <token>`")


def get_session(request: Request):
    with request.app.state.db.session() as session:
        yield session


def bearer_user(request: Request):
    """The user whose bearer token is in the Authorization header; 401 otherwise.

    Uses a session of its own, closed at once: an upload route must not keep a
    database transaction open while the file arrives.
    """
    # A refused upload's body is not worth reading: close the connection after the answer.
    close = request.method == "POST"
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized(f"missing bearer token: {BEARER_HELP}", close)
    with request.app.state.db.session() as session:
        user = auth.user_for_bearer(session, token.strip())
    if user is None:
        raise unauthorized("invalid or expired bearer token: get a new one with your API token "
                           "(with dynalab-cli: log in again)", close)
    return user


def unauthorized(detail, close=False):
    headers = {"WWW-Authenticate": "Bearer", **({"Connection": "close"} if close else {})}
    return HTTPException(status_code=401, detail=detail, headers=headers)
