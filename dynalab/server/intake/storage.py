"""Files on disk: uploads in flight (``tmp/``) and accepted archives (``blobs/``).

An upload is written to a temporary file in the data dir, hashed as it
arrives, and only renamed into ``blobs/`` once accepted; the rename is atomic
because both folders are on the same file system. Anything else leaves
nothing behind: the temporary file is removed on every other way out, and
what a crash leaves in ``tmp/`` is swept at the next start.
"""

import errno
import hashlib
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

NO_ROOM = (errno.ENOSPC, errno.EDQUOT)


class TooLarge(Exception):
    """Raised when an upload grows past the size limit while it is being received."""

    def __init__(self, limit):
        super().__init__(f"the tarball is larger than the server's limit of {limit} bytes")
        self.limit = limit


class DiskFull(Exception):
    """Raised when the data dir's file system has no room (or quota) left for an upload."""

    def __init__(self, where):
        super().__init__(f"the server's disk is full ({where}), so the upload was not kept; "
                         "tell the server's administrator, and upload again once there is room")


@contextmanager
def no_room_is_disk_full(where):
    """Turn "no space left on device" (or "quota exceeded") inside the block into ``DiskFull``."""
    try:
        yield
    except OSError as error:
        if error.errno in NO_ROOM:
            raise DiskFull(where) from error
        raise


def prepare_data_dir(settings):
    """Create the data dir's folders and sweep what a previous run left: uploads in flight, jobs' scratch dirs."""
    for folder in (settings.data_dir, settings.blobs_dir, settings.tmp_dir, settings.tasks_dir):
        folder.mkdir(parents=True, exist_ok=True)
    for leftover in settings.tmp_dir.iterdir():
        if leftover.is_file() or leftover.is_symlink():
            leftover.unlink()
    if settings.scratch_dir.is_dir():  # a killed server's jobs: their processes died with it
        for leftover in settings.scratch_dir.iterdir():
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink()


class IncomingFile:
    """A file being received into ``tmp_dir``: hashed and size-checked as it is written.

    A context manager: unless ``store`` moved it into the blob store, the file
    is deleted when the block ends, whatever the reason.
    """

    def __init__(self, tmp_dir, max_bytes):
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        with no_room_is_disk_full("tmp"):
            fd, name = tempfile.mkstemp(prefix="upload-", suffix=".part", dir=tmp_dir)
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")

    def write(self, data):
        self.size += len(data)
        if self.size > self.max_bytes:
            raise TooLarge(self.max_bytes)
        self._hash.update(data)
        with no_room_is_disk_full("tmp"):
            self._file.write(data)

    def finish(self):
        """Flush to disk and return the sha256 hex digest of the content."""
        with no_room_is_disk_full("tmp"):
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        return self._hash.hexdigest()

    def discard(self):
        if not self._file.closed:
            try:
                self._file.close()  # flushes what is buffered: on a full disk, that fails too
            except OSError:
                pass
        self.path.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.discard()


class BlobStore:
    """Accepted archives, one file per distinct content: ``blobs/<sha[:2]>/<sha>.tar.gz``."""

    def __init__(self, root):
        self.root = Path(root)

    def path(self, sha256):
        return self.root / sha256[:2] / f"{sha256}.tar.gz"

    def store(self, incoming, sha256):
        """Move ``incoming`` into place; returns True when this content is new."""
        target = self.path(sha256)
        if target.exists():
            incoming.discard()
            return False
        with no_room_is_disk_full("blobs"):
            target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(incoming.path, target)
        return True

    def remove(self, sha256):
        self.path(sha256).unlink(missing_ok=True)
