"""The one HTTP session every call to the evaluation server goes through.

Retries are layered so that nothing is ever sent twice by accident:

- Idempotent requests (GET) are retried by urllib3 on connection errors, read
  errors and 5xx answers, with exponential backoff.
- POST is not in ``allowed_methods``, so urllib3 retries it only on errors it
  classes as connection errors (refused, connect timeout): the request never
  reached the server and the body was not read yet. A streamed body cannot be
  rewound, so urllib3 must not resend one it has started to read.
- A POST answered 502/503/504 (a proxy or a restarting server) is retried by
  ``dynalab.client.upload`` itself, which reopens the archive and builds a new
  body for each attempt.
"""

import ipaddress
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from dynalab import __version__

USER_AGENT = f"dynalab/{__version__}"

RETRIES = 4
"""Attempts after the first; with BACKOFF the waits are 0, 1, 2, 4 s (about 7 s in all)."""
BACKOFF = 0.5
RETRY_STATUSES = (500, 502, 503, 504)

TIMEOUT = (10, 60)
"""(connect, read) seconds for API calls."""
UPLOAD_TIMEOUT = (10, 900)
"""A long read timeout: the server checks the whole archive before it answers."""

BLOCK_SIZE = 1 << 20
"""Bytes read from a streamed body per socket write; urllib3's 16 KiB default
makes the multipart encoder the bottleneck on multi-GB uploads."""


class _Adapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        kwargs.setdefault("blocksize", BLOCK_SIZE)
        super().init_poolmanager(*args, **kwargs)


class _Session(requests.Session):
    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if _is_loopback(url):
            # A proxy from HTTP_PROXY cannot reach a server on this machine's loopback.
            settings["proxies"] = {}
        return settings


def _is_loopback(url):
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make_session(retries=RETRIES, backoff=BACKOFF):
    """A ``requests.Session`` with our User-Agent and the retry policy above."""
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS,  # excludes POST: see the module docstring
        # Hand back the last 5xx answer instead of raising, so its text reaches the user.
        raise_on_status=False,
        # A 429's Retry-After can be hours away: report it, never sleep on it.
        respect_retry_after_header=False,
    )
    session = _Session()
    adapter = _Adapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session
