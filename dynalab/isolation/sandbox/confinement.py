"""What the sandbox's processes see: bubblewrap, binding only what a model needs.

``bwrap --unshare-all --die-with-parent --new-session``: no network (a fresh
network namespace with only ``lo``), its own process, IPC and UTS namespaces,
and a file system made of

- the system's libraries, read-only: ``/usr``, ``/bin``, ``/sbin``, ``/lib*``
  (as the symlinks they are on a merged-/usr system) and the few files of
  ``/etc`` that Python and the C library read (``ld.so.cache``, ``localtime``...);
  ``/etc/passwd`` and ``/etc/group`` are the sandbox's own, naming only its user;
- the interpreter's prefix (the environment layers are virtual environments
  of it), read-only, with its site-packages hidden;
- the ``read_only`` folders the caller names (the environment layers, the
  package, the model dir, the runtime), at the same paths as outside;
- ``/tmp``, a tmpfs of the sandbox's own (its pages count in the memory
  cgroup, so it cannot fill this machine's disk), and the ``writable``
  folders the caller names (the folder of the server's Unix socket): the only
  places the model can write;
- a fresh ``/proc`` and a minimal ``/dev``.

Nothing else of this machine exists inside: not the home folders, not a
server's data dir, not other uploads. The model runs as an unprivileged user
(uid 1000, where user namespaces allow it).
"""

import functools
import os
import shutil
import site
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SYSTEM_FOLDERS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "host.conf", "hosts",
             "mime.types", "os-release")
USER = (1000, 1000)  # uid, gid inside the sandbox
NAMESPACES = ("--unshare-all", "--die-with-parent", "--new-session")


@dataclass(frozen=True)
class Bubblewrap:
    """A working ``bwrap`` of this system."""

    path: str
    own_user: bool  # user namespaces work: the model runs as USER, not as this process's user


@functools.lru_cache(maxsize=1)
def bubblewrap():
    """The Bubblewrap of this system, or None where there is no working ``bwrap`` (macOS, not installed,
    namespaces disabled)."""
    path = shutil.which("bwrap")
    if not sys.platform.startswith("linux") or not path or not os.path.exists("/usr/bin/true"):
        return None
    for own_user in (True, False):
        candidate = Bubblewrap(path, own_user)
        command = confine(candidate, [], [], "/", ["/usr/bin/true"], scratch=None)
        try:
            result = subprocess.run(command, capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if result.returncode == 0:
            return candidate
    return None


def interpreter_prefix():
    """The real interpreter's prefix (the layers are venvs of it) and its site-packages folders, to hide."""
    prefix = Path(sys.base_prefix).resolve()
    hidden = [Path(folder) for folder in site.getsitepackages([sys.base_prefix]) if os.path.isdir(folder)]
    return prefix, hidden


def confine(bwrap, read_only, writable, chdir, command, scratch, binds=(), tmp_bytes=None):
    """``command`` under ``bwrap`` (a Bubblewrap), seeing only what the module's docstring lists.

    ``read_only`` and ``writable`` are folders bound at their own paths,
    writable first, so a read-only folder inside a writable one stays
    read-only. ``scratch`` (a folder of this machine, or None) holds the
    sandbox's ``/etc/passwd``; ``/tmp`` (mounted before them all: they may lie
    in this machine's /tmp) is a tmpfs of at most ``tmp_bytes``. ``binds`` are
    (folder, path inside) pairs, writable, such as the folder of a Unix socket
    at a path short enough for one.
    """
    arguments = [bwrap.path, *NAMESPACES]
    if bwrap.own_user:
        arguments += ["--unshare-user", "--uid", str(USER[0]), "--gid", str(USER[1])]
    arguments += ["--ro-bind", "/usr", "/usr"]
    for folder in SYSTEM_FOLDERS:
        if os.path.islink(folder):
            arguments += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            arguments += ["--ro-bind", folder, folder]
    for name in ETC_FILES:
        if os.path.exists(f"/etc/{name}"):
            arguments += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    prefix, hidden = interpreter_prefix()
    if not _inside(prefix, Path("/usr")):
        arguments += ["--ro-bind", str(prefix), str(prefix)]
    for folder in hidden:
        arguments += ["--tmpfs", str(folder)]
    arguments += ["--proc", "/proc", "--dev", "/dev"]
    # First: the folders below may lie in this machine's /tmp, and must not be hidden by it.
    arguments += [*(["--size", str(tmp_bytes)] if tmp_bytes else []), "--perms", "1777", "--tmpfs", "/tmp"]
    if scratch is not None:
        arguments += _user_files(Path(scratch))
    for folder in writable:
        arguments += ["--bind", str(folder), str(folder)]
    for folder, inside in binds:
        arguments += ["--bind", str(folder), str(inside)]
    for folder in read_only:
        arguments += ["--ro-bind", str(folder), str(folder)]
    arguments += ["--chdir", str(chdir)]
    return [*arguments, *command]


def _user_files(scratch):
    """An ``/etc/passwd`` and ``/etc/group`` naming only the model's user (some libraries look it up)."""
    etc = scratch / "etc"
    etc.mkdir(exist_ok=True)
    uid, gid = USER
    (etc / "passwd").write_text(f"root:x:0:0:root:/root:/usr/sbin/nologin\nmodel:x:{uid}:{gid}:model:/tmp:/usr/sbin/nologin\n")
    (etc / "group").write_text(f"root:x:0:\nmodel:x:{gid}:\n")
    return ["--ro-bind", str(etc / "passwd"), "/etc/passwd", "--ro-bind", str(etc / "group"), "/etc/group"]


def _inside(path, folder):
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False
