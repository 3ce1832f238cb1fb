"""Helpers for the client's tests: model archives the server accepts, reading a terminal."""

import io
import os
import select
import tarfile
import time

MODEL = "m"


def make_archive(path, name=MODEL, task="nli", payload=b"weights" * 1000):
    """A small model archive the server accepts: the project with its ``.dynalab/<name>/config.yaml``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for member, data in (
            (f".dynalab/{name}/config.yaml", f"task: {task}\ncheckpoint: model.pt\nhandler: handler.py\n".encode()),
            ("handler.py", b"def handle(data, context):\n    return []\n"),
            ("model.pt", payload),
        ):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def read_until(fd, marker, timeout=30):
    """What a pseudo-terminal shows until ``marker`` appears (or it closes, or time runs out)."""
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            data += chunk
    data += _drain(fd)
    return data


def _drain(fd):
    data = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    return data
