"""Credentials: API tokens, short-lived bearer tokens and passwords.

Only hashes are stored. Tokens are random (``secrets.token_urlsafe``), so a
plain SHA-256 is enough to make a stolen database useless; passwords are
chosen by people, so they get a salted, slow PBKDF2.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from dynalab.server.db.models import BearerToken, User, utcnow

PBKDF2_ITERATIONS = 240_000


def new_token():
    return secrets.token_urlsafe(32)


def hash_token(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password):
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, PBKDF2_ITERATIONS)
    return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${salt.hex()}${digest.hex()}"


# Checked against when there is no password to check, so that an unknown email or an
# account without password takes as long to refuse as a wrong password.
_NO_PASSWORD = f"pbkdf2_sha256${PBKDF2_ITERATIONS}${'00' * 16}${'00' * 32}"


def check_password(password, stored):
    """True if ``password`` matches the ``stored`` hash; just as slow when there is none."""
    try:
        scheme, iterations, salt, expected = (stored or _NO_PASSWORD).split("$")
        iterations = int(iterations)
        salt = bytes.fromhex(salt)
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(digest.hex(), expected) and bool(stored)


def create_user(session, email, password=None):
    """Add a user; returns ``(user, api_token)``. The caller commits."""
    token = new_token()
    user = User(
        email=email,
        password_hash=hash_password(password) if password else None,
        api_token_hash=hash_token(token),
    )
    session.add(user)
    return user, token


def rotate_api_token(session, user):
    """Give ``user`` a new API token; the old one and its bearer tokens stop working."""
    token = new_token()
    user.api_token_hash = hash_token(token)
    session.execute(delete(BearerToken).where(BearerToken.user_id == user.id))
    return token


def user_for_api_token(session, api_token):
    if not api_token:
        return None
    return session.scalar(select(User).where(User.api_token_hash == hash_token(api_token)))


def issue_bearer(session, user, ttl_seconds):
    """A new bearer token for ``user``, valid ``ttl_seconds``; also drops expired ones."""
    now = utcnow()
    session.execute(delete(BearerToken).where(BearerToken.expires_at <= now))
    token = new_token()
    session.add(BearerToken(token_hash=hash_token(token), user_id=user.id,
                            expires_at=now + timedelta(seconds=ttl_seconds)))
    return token


def user_for_bearer(session, token):
    if not token:
        return None
    row = session.scalar(select(BearerToken).where(BearerToken.token_hash == hash_token(token)))
    if row is None or row.expires_at <= utcnow():
        return None
    return session.get(User, row.user_id)
