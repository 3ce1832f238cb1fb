"""Web sign-in state: a signed session cookie and the CSRF token of every form, no database table.

The cookie holds who is signed in (or nobody yet), a fingerprint of that
user's password hash (so ``set-password`` signs out every browser) and a
random CSRF token, signed with the secret in the data dir's ``session.key``
(made at first start) and valid for ``SESSION_TTL`` seconds. It is HttpOnly,
SameSite=Lax, and Secure when the page was served over https.

Every form that changes something carries the session's CSRF token in a
hidden field (``CSRF_FIELD``) and is refused unless it matches the cookie's:
another site can make a browser post a form, but cannot read the token.
Signing in starts a new session, so a token seen before does not carry over.

    sessions = WebSessions.from_key_file(settings.session_key_file)
    session = sessions.read(request) or sessions.anonymous()
    sessions.check_csrf(session, form.csrf)  # the token the form sent in its CSRF_FIELD
    sessions.save(response, request, session)
"""

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from dynalab.errors import UsageError
from dynalab.server.db.models import User

COOKIE = "dynalab_session"
CSRF_FIELD = "csrf_token"
SESSION_TTL = 8 * 3600
SALT = "dynalab.web-session"


@dataclass(frozen=True)
class WebSession:
    """One browser's state: ``user_id`` is None until it signs in."""

    csrf: str
    user_id: int | None = None
    password_mark: str = ""


def password_mark(password_hash):
    """A short fingerprint of a stored password hash: a new password ends old sessions."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


class WebSessions:
    """Reads, makes and writes ``WebSession`` cookies signed with ``secret``."""

    def __init__(self, secret):
        self.serializer = URLSafeTimedSerializer(secret, salt=SALT)

    @classmethod
    def from_key_file(cls, path):
        return cls(load_or_create_secret(path))

    def anonymous(self):
        return WebSession(csrf=secrets.token_urlsafe(32))

    def signed_in(self, user):
        return WebSession(csrf=secrets.token_urlsafe(32), user_id=user.id,
                          password_mark=password_mark(user.password_hash))

    def read(self, request):
        """The request's valid session, or None (no cookie, a forged or expired one)."""
        cookie = request.cookies.get(COOKIE)
        if not cookie:
            return None
        try:
            data = self.serializer.loads(cookie, max_age=SESSION_TTL)
            return WebSession(csrf=str(data["csrf"]), user_id=data.get("user"), password_mark=data.get("pw", ""))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None

    def user(self, session, db_session):
        """The signed-in user of ``session``, or None (signed out, deleted, or the password changed)."""
        if session is None or type(session.user_id) is not int:
            return None
        user = db_session.get(User, session.user_id)
        if user is None or not hmac.compare_digest(password_mark(user.password_hash), session.password_mark):
            return None
        return user

    def check_csrf(self, session, submitted):
        """True when the form's token is the session's."""
        return bool(session and submitted) and hmac.compare_digest(session.csrf.encode(), str(submitted).encode())

    def save(self, response, request, session):
        data = {"csrf": session.csrf}
        if session.user_id is not None:
            data.update(user=session.user_id, pw=session.password_mark)
        # No Path: the browser scopes the cookie to the page's folder, so a server
        # mounted under a prefix does not send it to the rest of the host.
        response.set_cookie(COOKIE, self.serializer.dumps(data), max_age=SESSION_TTL, path=None,
                            httponly=True, samesite="lax", secure=request.url.scheme == "https")


def load_or_create_secret(path):
    """The secret in ``path``, made (readable by the owner only) if there is none yet."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        secret = path.read_text(encoding="ascii").strip()
        if len(secret) < 32:
            raise UsageError(f"{path} holds no usable secret",
                             hint="delete it and start the server again (web sign-ins will be asked again)")
        return secret
    secret = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secret + "\n")
    return secret
