"""File rules every part of Dynalab shares: where a path lies, how a file is replaced, its digest.

Standard library only: the runtime next to the model uses it too (it is
copied with the runtime, see ``dynalab.isolation.workspace.RUNTIME_PARTS``).
"""

import hashlib
import os
import tempfile
from contextlib import contextmanager

CHUNK = 1 << 20


def relative_inside(path, root):
    """``path`` relative to ``root`` as posix text ("." for the root itself), or None when it lies outside.

    The test is on the paths as written (made absolute, ``..`` folded): resolve
    symlinks first where a link's target is what counts.
    """
    path, root = os.path.abspath(path), os.path.abspath(root)
    try:
        if os.path.commonpath([path, root]) != root:
            return None
    except ValueError:  # different drives, or one relative and one absolute
        return None
    return os.path.relpath(path, root).replace(os.sep, "/")


def is_inside(path, root):
    """True when ``path`` is ``root`` or lies beneath it (see ``relative_inside``)."""
    return relative_inside(path, root) is not None


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def replacing(path, mode=None):
    """Yield the path of a temporary sibling of ``path``; write it, and on leaving the block it
    replaces ``path`` in one step (a rename), so a crash or a full disk never leaves a half-written file.

    The temporary file is removed if the block raises. ``mode`` defaults to what
    a plain ``open`` would give (0666 less the umask); it is set before any byte
    is written, so a private file (0600) is never readable by others.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        os.fchmod(fd, 0o666 & ~current_umask() if mode is None else mode)
        os.close(fd)
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def atomic_write_bytes(path, data, mode=None):
    """Replace ``path`` with ``data`` in one step (see ``replacing``)."""
    with replacing(path, mode) as temporary:
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())


def atomic_write_text(path, text, mode=None):
    """Replace ``path`` with ``text`` (UTF-8) in one step (see ``replacing``)."""
    atomic_write_bytes(path, text.encode("utf-8"), mode)


def sha256_file(path):
    """The hex sha256 of the file at ``path``, read in chunks (memory stays flat for any size)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()
