"""What some tests need from the machine (torch, Docker, PostgreSQL) and what happens without it.

Without it a test is skipped on a developer's machine, but fails in CI (``CI``
set): CI must never test less without saying so.
"""

import os

import pytest


def in_ci():
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(reason, module=False):
    """Skip the current test (or the whole module) for ``reason``, or fail it in CI."""
    if in_ci():
        pytest.fail(f"CI needs this: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module)
