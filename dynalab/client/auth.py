"""Where the API token comes from, and the file it is kept in.

The token is looked for in a fixed order, the first found wins:

1. ``--token T`` on the command line;
2. ``--token-stdin``: the first line of standard input (keeps it out of ``ps``
   and shell history in CI);
3. the environment variable ``DYNALAB_API_TOKEN``;
4. ``~/.dynalab/secrets.json`` (``{"api_token": ...}``, the original tool's
   file), written by ``dynalab-cli login``;
5. a prompt, only when a person is at a terminal.

With no terminal, a missing token is an ``AuthError`` listing these options,
never a prompt that hangs CI. The token itself is never printed: only its
source is named in messages. Where a token may be sent is decided by
``resolve_token_for``: never by a project's config alone.
"""

import json
import os
import sys
from typing import NamedTuple

from dynalab import prompts
from dynalab.errors import AuthError
from dynalab.files import atomic_write_text
from dynalab.project.settings import user_dir

TOKEN_ENV = "DYNALAB_API_TOKEN"

HOW_TO_GIVE_A_TOKEN = (
    "pass --token TOKEN or --token-stdin, set DYNALAB_API_TOKEN, "
    "or run `dynalab-cli login` on a terminal"
)


class Credential(NamedTuple):
    """An API token and where it was found (for messages)."""

    token: str
    source: str

    def __repr__(self):
        # Tracebacks and debug output show the source, never the secret.
        return f"Credential(token=<hidden>, source={self.source!r})"


def secrets_path():
    """``~/.dynalab/secrets.json``, or under ``$DYNALAB_HOME`` when set."""
    return user_dir() / "secrets.json"


def resolve_token(token=None, token_stdin=False, stdin=None, use_saved=True, prompt=None):
    """The API token to use, as a ``Credential``, following the order above.

    ``prompt`` is a callable returning a token, called only when nothing else
    gave one and a person is at a terminal. ``use_saved=False`` skips the
    secrets file (``login`` wants a new token, not the one it would replace).
    Raises ``AuthError`` when no token is found.
    """
    if token is not None:
        return Credential(_nonempty(token, "--token"), "--token")
    if token_stdin:
        line = (stdin or sys.stdin).readline()
        return Credential(_nonempty(line, "--token-stdin (standard input)"), "standard input")
    if os.environ.get(TOKEN_ENV, "").strip():
        return Credential(os.environ[TOKEN_ENV].strip(), TOKEN_ENV)
    if use_saved:
        saved = load_saved_token()
        if saved:
            return Credential(saved, str(secrets_path()))
    if prompt is not None and prompts.interactive():
        return Credential(_nonempty(prompt(), "the prompt"), "the prompt")
    raise AuthError("no API token: not logged in", hint=HOW_TO_GIVE_A_TOKEN)


def resolve_token_for(server):
    """The token to send to ``server`` (an ``api.Server``; non-interactive).

    A token saved by ``login`` goes only to the server that accepted it. Any
    other token (``DYNALAB_API_TOKEN``, a secrets file of the original tool,
    which names no server) goes only to a server the user named: a flag, a
    variable, their settings, their login, or the default on this machine;
    never to one that only a project's config names.
    """
    credential = resolve_token()
    if credential.source == str(secrets_path()):
        saved_url = saved_api_url()
        if saved_url and saved_url.rstrip("/") != server.url:
            raise AuthError(
                f"your saved login is for {saved_url}, not {server.url}",
                hint=f"log in to that server first: dynalab-cli login --api-url {server.url}",
            )
        if saved_url:
            return credential
        which = f"the token in {credential.source} (saved with no server, as the original tool did)"
    else:
        which = f"the token from {credential.source}"
    if not server.user_named:
        raise AuthError(
            f"{which} is not sent to {server.url}, which only {server.source} names",
            hint=f"a project's config cannot choose where your token goes: if you trust {server.url}, "
            f"pass --api-url {server.url} or set DYNALAB_API_URL, or log in to it: "
            f"dynalab-cli login --api-url {server.url}",
        )
    return credential


def load_saved_token():
    """The token saved by ``login``, or None when there is none."""
    path = secrets_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise AuthError(f"cannot read {path}: {error}", hint="delete it and run `dynalab-cli login` again")
    token = data.get("api_token") if isinstance(data, dict) else None
    return token.strip() if isinstance(token, str) and token.strip() else None


def saved_api_url():
    """The server the saved token was checked with (by ``login``), or None."""
    try:
        data = json.loads(secrets_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    url = data.get("api_url") if isinstance(data, dict) else None
    return url if isinstance(url, str) and url.strip() else None


def save_token(token, api_url=None):
    """Save ``token`` in the secrets file (mode 0600); return the file's path.

    Other keys already in the file are kept, as the original tool did. The file
    is written beside its target and renamed over it, so a crash never leaves
    it half-written; it is created 0600, so it is never readable by others,
    not even for a moment.
    """
    path = secrets_path()
    data = _read_other_keys(path)
    data["api_token"] = token
    if api_url:
        # Remembered so that upload sends the token to the server that accepted it.
        data["api_url"] = api_url
    _write_private(path, json.dumps(data, indent=2) + "\n")
    return path


def delete_token():
    """Forget the saved token (``logout``); True if there was one."""
    path = secrets_path()
    data = _read_other_keys(path)
    had_token = bool(data.pop("api_token", None))
    data.pop("api_url", None)  # the server of that login
    if data:
        _write_private(path, json.dumps(data, indent=2) + "\n")
    elif path.exists():
        path.unlink()
    return had_token


def _read_other_keys(path):
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_private(path, text):
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Created 0600 from the first byte (mkstemp), renamed into place whole.
    atomic_write_text(path, text, mode=0o600)


def _nonempty(value, source):
    value = (value or "").strip()
    if not value:
        raise AuthError(f"the API token from {source} is empty", hint=HOW_TO_GIVE_A_TOKEN)
    return value
