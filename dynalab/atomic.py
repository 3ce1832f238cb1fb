"""Writing files so that a crash or a full disk never leaves one half-written."""

import os
import tempfile
from pathlib import Path


def atomic_write_text(path, text, mode=None):
    """Replace ``path`` with ``text`` in one step (write a sibling, then rename).

    ``mode`` defaults to what a plain ``open`` would give (0666 less the umask).
    """
    if mode is None:
        mode = 0o666 & ~current_umask()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
