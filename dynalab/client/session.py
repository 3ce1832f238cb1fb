"""The one HTTP session every call to the evaluation server goes through: a User-Agent,
the retry policy (``retry.py``), and no proxy for a server on this machine's loopback.
"""

import ipaddress
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from dynalab import __version__
from dynalab.client import retry

USER_AGENT = f"dynalab/{__version__}"

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
        if is_loopback(urlsplit(url).hostname):
            # A proxy from HTTP_PROXY cannot reach a server on this machine's loopback.
            settings["proxies"] = {}
        return settings


def is_loopback(host):
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1): this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def make_session(retries=retry.RETRIES, backoff=retry.BACKOFF):
    """A ``requests.Session`` with our User-Agent and the retry policy of ``retry.policy``."""
    session = _Session()
    adapter = _Adapter(max_retries=retry.policy(retries, backoff))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session
