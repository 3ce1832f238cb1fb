"""When a request to the evaluation server is sent again, and when it never is.

Retries are layered so that nothing is ever sent twice by accident:

- Idempotent requests (GET) are retried by urllib3 (``policy``) on connection
  errors, read errors and 5xx answers, with exponential backoff.
- POST is not in ``allowed_methods``, so urllib3 retries it only on errors it
  classes as connection errors (refused, connect timeout): the request never
  reached the server and the body was not read yet. A streamed body cannot be
  rewound, so urllib3 must not resend one it has started to read.
- An upload answered 502/503/504 (a proxy or a restarting server) is sent
  again by ``resend_on_gateway_errors``, which builds a new body for each
  attempt, unless the server stored it all the same (a gateway timing out on
  a server that then succeeded).
"""

import time

from urllib3.util.retry import Retry

RETRIES = 4
"""Attempts after the first; with BACKOFF the waits are 0, 1, 2, 4 s (about 7 s in all)."""
BACKOFF = 0.5
RETRY_STATUSES = (500, 502, 503, 504)

GATEWAY_STATUSES = (502, 503, 504)
"""Answers from a proxy or a restarting server: the upload was not taken, so sending again is safe."""
ATTEMPTS = 3
MAX_WAIT = 60
"""Longest pause between upload attempts, whatever Retry-After asks for."""


def policy(retries=RETRIES, backoff=BACKOFF):
    """urllib3's retry policy for the session: see the module docstring."""
    return Retry(
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


def resend_on_gateway_errors(post, stored_meanwhile, wait_for, out):
    """``post()`` until it is answered otherwise than 502-504, at most ATTEMPTS times.

    Returns the last response, or what ``stored_meanwhile()`` found (the server's
    record of this upload, which it stored despite answering an error: then it
    is not sent again). ``wait_for(response)`` is the pause the server asks
    for (Retry-After), or None.
    """
    for attempt in range(1, ATTEMPTS + 1):
        response = post()
        if response.status_code not in GATEWAY_STATUSES or attempt == ATTEMPTS:
            return response
        stored = stored_meanwhile()
        if stored:
            return stored
        wait = wait_for(response)
        wait = min(MAX_WAIT, wait if wait is not None else 2 ** attempt)
        out(f"The server answered HTTP {response.status_code}; sending again in {wait} s "
            f"(attempt {attempt + 1} of {ATTEMPTS}).")
        time.sleep(wait)
    raise AssertionError("unreachable")
