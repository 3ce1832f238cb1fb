"""Is an uploaded file a model archive we are willing to store?

The archive is read as a stream and never extracted: member headers are
checked one by one (paths, types, sizes), only the model's small config file
is read into memory, and links are checked once the whole archive is known
(a link defined later can change where an earlier one points).

Accepted layouts: the project's files at the top of the archive, or under one
top-level folder; either way it must hold ``.dynalab/<name>/config.yaml`` (or
the original tool's ``.dynalab/<name>/setup_config.json``).
"""

import gzip
import json
import posixpath
import tarfile
import zlib
from dataclasses import dataclass

import yaml

from dynalab.project import CONFIG_FILE, DYNALAB_DIR, LEGACY_CONFIG_FILE

GZIP_MAGIC = b"\x1f\x8b"
MAX_MEMBERS = 500_000
MAX_CONFIG_BYTES = 1024 * 1024
MAX_LINK_HOPS = 40
TRUNCATED = "the tarball is truncated (the archive ends before its end marker)"


class ArchiveRejected(ValueError):
    """Raised when an upload is not an archive the server accepts; the text says why."""


@dataclass(frozen=True)
class ArchiveSummary:
    """What the check saw of an accepted archive (the server logs the counts)."""

    config_path: str
    members: int
    unpacked_bytes: int


def check_archive(path, model_name, task_code, max_unpacked_bytes):
    """Check the gzip tar at ``path`` for model ``model_name``; return its ``ArchiveSummary``.

    Raises ``ArchiveRejected`` with the reason when the archive is refused.
    """
    with open(path, "rb") as f:
        if f.read(2) != GZIP_MAGIC:
            raise ArchiveRejected("the tarball is not gzip-compressed (expected a .tar.gz archive)")
        f.seek(0)
        try:
            return _Scan(model_name, task_code, max_unpacked_bytes).run(f)
        except EOFError:
            raise ArchiveRejected(TRUNCATED)
        except (tarfile.TarError, zlib.error, gzip.BadGzipFile) as error:
            if "unexpected end of data" in str(error):  # tarfile's stream mode says so
                raise ArchiveRejected(TRUNCATED)
            raise ArchiveRejected(f"the tarball is not a valid gzip tar archive ({error})")


class _Scan:
    def __init__(self, model_name, task_code, max_unpacked_bytes):
        self.model_name = model_name
        self.task_code = task_code
        self.max_unpacked_bytes = max_unpacked_bytes
        self.symlinks = {}  # normalised path -> target, as written
        self.hardlinks = {}  # normalised path -> normalised target
        self.paths = []
        self.config_path = None
        self.unpacked = 0

    def run(self, fileobj):
        count = 0
        with tarfile.open(fileobj=fileobj, mode="r|gz") as tar:
            for member in tar:
                count += 1
                if count > MAX_MEMBERS:
                    raise ArchiveRejected(f"the archive has more than {MAX_MEMBERS} members")
                self.unpacked += max(member.size, 0)
                if self.unpacked > self.max_unpacked_bytes:
                    raise ArchiveRejected(
                        f"the archive unpacks to more than {self.max_unpacked_bytes} bytes")
                self.member(tar, member)
        if count == 0:
            raise ArchiveRejected("the archive is empty")
        self.check_links()
        if self.config_path is None:
            raise ArchiveRejected(
                f"the archive holds no {DYNALAB_DIR}/{self.model_name}/{CONFIG_FILE} (nor the legacy "
                f"{LEGACY_CONFIG_FILE}): is `name` the model's name, and was the archive made by "
                "`dynalab-cli package`?")
        return ArchiveSummary(self.config_path, count, self.unpacked)

    def member(self, tar, member):
        path = _normalise(member.name, "member")
        if member.ischr() or member.isblk() or member.isfifo():
            raise ArchiveRejected(f"archive member {member.name!r} is a device or fifo, not a file")
        if member.issym():
            if member.linkname.startswith("/"):
                raise ArchiveRejected(
                    f"archive member {member.name!r} links to an absolute path ({member.linkname})")
            self.symlinks[path] = member.linkname
        elif member.islnk():
            self.hardlinks[path] = _normalise(member.linkname, f"the hard link {member.name!r} to")
        elif not (member.isreg() or member.isdir()):
            raise ArchiveRejected(f"archive member {member.name!r} has an unsupported type")
        if path:
            self.paths.append(path)
        if self.is_config(path):
            if not member.isreg():
                raise ArchiveRejected(f"{member.name} must be a regular file")
            self.config_path = path
            self.check_config(tar, member, path)

    def is_config(self, path):
        parts = path.split("/")
        tail = parts[-3:]
        return (len(parts) in (3, 4) and tail[:2] == [DYNALAB_DIR, self.model_name]
                and tail[2] in (CONFIG_FILE, LEGACY_CONFIG_FILE))

    def check_config(self, tar, member, path):
        """The config's ``task`` (when it says one) must be the task uploaded to."""
        if member.size > MAX_CONFIG_BYTES:
            raise ArchiveRejected(f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
        text = tar.extractfile(member).read()
        try:
            if path.endswith(".json"):
                config = json.loads(text)
            else:
                config = yaml.safe_load(text)
        except ValueError as error:
            raise ArchiveRejected(f"{path} is not valid JSON ({error})")
        except yaml.YAMLError as error:
            raise ArchiveRejected(f"{path} is not valid YAML ({str(error).splitlines()[0]})")
        task = config.get("task") if isinstance(config, dict) else None
        if task is not None and task != self.task_code:
            raise ArchiveRejected(
                f"{path} is for task {task!r} but the upload names task {self.task_code!r}")

    def check_links(self):
        for path in self.paths:
            parts = path.split("/")
            for depth in range(1, len(parts)):
                prefix = "/".join(parts[:depth])
                if prefix in self.symlinks:
                    raise ArchiveRejected(
                        f"archive member {path!r} lies under the symbolic link {prefix!r}")
        for path, target in self.symlinks.items():
            self.resolve(_parts(posixpath.dirname(path)), target, path, [0])
        for path, target in self.hardlinks.items():
            self.resolve([], target, path, [0])

    def resolve(self, folder, target, link, hops):
        """Follow ``target`` from ``folder`` through the archive's symlinks; fail if it escapes."""
        stack = list(folder)
        for part in _parts(target):
            if part == "..":
                if not stack:
                    raise ArchiveRejected(f"archive member {link!r} links outside the archive ({target})")
                stack.pop()
                continue
            stack.append(part)
            nested = self.symlinks.get("/".join(stack))
            if nested is not None:
                hops[0] += 1
                if hops[0] > MAX_LINK_HOPS:
                    raise ArchiveRejected(f"archive member {link!r}: too many levels of symbolic links")
                stack = self.resolve(stack[:-1], nested, link, hops)
        return stack


def _parts(path):
    return [part for part in path.split("/") if part not in ("", ".")]


def _normalise(name, what):
    """``name`` without ``./`` prefixes or trailing ``/``; rejects absolute and ``..`` paths."""
    if name.startswith("/"):
        raise ArchiveRejected(f"{what} {name!r} has an absolute path")
    parts = _parts(name)
    if ".." in parts:
        raise ArchiveRejected(f"{what} {name!r} has a '..' component")
    return "/".join(parts)
