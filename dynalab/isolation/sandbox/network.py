"""How the sandbox cuts the network: a network namespace of its own, where only loopback exists.

The first of ``unshare -n`` (as root), ``unshare -rn`` or ``bwrap --unshare-net``
that works on this system; none on macOS, or where user namespaces are disabled.
"""

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class NetworkIsolation:
    """A command prefix that runs its command without network access."""

    prefix: tuple
    loopback: bool  # the launcher must bring ``lo`` up itself
    description: str


@functools.lru_cache(maxsize=1)
def network_isolation():
    """The first way of cutting the network that works here, or None."""
    if not sys.platform.startswith("linux"):
        return None
    candidates = []
    unshare, bwrap = shutil.which("unshare"), shutil.which("bwrap")
    if unshare and os.geteuid() == 0:
        candidates.append(NetworkIsolation((unshare, "--net"), True, "unshare -n"))
    if unshare:
        candidates.append(NetworkIsolation((unshare, "--user", "--map-root-user", "--net"), True, "unshare -rn"))
    if bwrap:
        candidates.append(NetworkIsolation((bwrap, "--unshare-net", "--dev-bind", "/", "/"), False, "bwrap --unshare-net"))
    for candidate in candidates:
        try:
            result = subprocess.run([*candidate.prefix, sys.executable, "-c", ""], capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode == 0:
            return candidate
    return None
