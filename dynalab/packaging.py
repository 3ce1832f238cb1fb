"""The submission archive: what upload sends and the integrated test unpacks.

Content: the project root minus ``exclude``, minus ``.dynalab/`` (except this
model's ``config.yaml`` and the packaged task definition), minus past
submissions, minus VCS and cache folders.

The archive is deterministic (sorted members; owner, times and modes fixed;
gzip headers without a timestamp), so its sha256 fingerprints the content.
It is written as several concatenated gzip members, which gzip, GNU tar and
Python's ``tarfile`` all read as one stream: text is compressed in a shared
member, while a big file that does not compress (a checkpoint) is stored in
its own member at level 0, so packaging weights costs a copy, not minutes.
"""

import hashlib
import json
import os
import posixpath
import struct
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from dynalab.atomic import atomic_write_text
from dynalab.errors import ConfigError, DynalabError
from dynalab.project import CONFIG_FILE, DYNALAB_DIR, SUBMISSIONS_DIR

SKIPPED_DIRS = {".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache", ".ipynb_checkpoints"}
SKIPPED_SUFFIXES = (".pyc",)
MANIFEST_VERSION = 1

CHUNK = 1 << 20
SMALL_FILE = 256 * 1024  # below this, always compressed with the text
BIG_FILE = 32 * 1024 * 1024  # compressible files above this get a fast level
SAMPLE = 64 * 1024
STORE_RATIO = 0.9  # a sample that shrinks less than 10% is stored as is
TEXT_LEVEL, FAST_LEVEL, STORED = 6, 1, 0


@dataclass(frozen=True)
class ArchiveInfo:
    """A built (or reused) archive: its path, sha256, size in bytes and members."""

    path: Path
    sha256: str
    size: int
    file_count: int
    files: list = field(repr=False)
    reused: bool = False


@dataclass(frozen=True)
class _Entry:
    path: str  # relative, posix: the member name
    source: str  # absolute path to read (a symlink's target is read as the file)
    size: int
    mtime_ns: int
    executable: bool


def list_package_files(project_root, name, config):
    """The relative posix paths the archive of model ``name`` holds, sorted."""
    return [entry.path for entry in _scan(Path(project_root).resolve(), name, config)]


def build_archive(project_root, name, config, out_path, force=False):
    """Write the archive to ``out_path`` (atomically), or reuse it if nothing changed.

    Reuse needs the same file list, sizes and mtimes as the recorded build
    (``<out_path>.manifest.json``), so a rerun only costs a walk of the tree.
    """
    root = Path(project_root).resolve()
    out_path = Path(out_path)
    entries = _scan(root, name, config)
    files = [entry.path for entry in entries]
    listing = [[e.path, e.size, e.mtime_ns, e.executable] for e in entries]
    manifest_path = out_path.with_name(out_path.name + ".manifest.json")
    if not force:
        reused = _reusable(out_path, manifest_path, listing)
        if reused:
            return ArchiveInfo(out_path, reused["sha256"], reused["size"], len(files), files, reused=True)

    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".partial", dir=out_path.parent)
    try:
        with os.fdopen(fd, "wb") as raw:
            os.fchmod(raw.fileno(), 0o644)
            sha256, size = _write_tar_gz(raw, entries)
        os.replace(tmp, out_path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    record = {
        "version": MANIFEST_VERSION,
        "sha256": sha256,
        "size": size,
        "archive_mtime_ns": os.stat(out_path).st_mtime_ns,
        "files": listing,
    }
    atomic_write_text(manifest_path, json.dumps(record))
    return ArchiveInfo(out_path, sha256, size, len(files), files)


def _reusable(out_path, manifest_path, listing):
    try:
        record = json.loads(manifest_path.read_text(encoding="utf-8"))
        stat = os.stat(out_path)
    except (OSError, ValueError):
        return None
    if (
        record.get("version") == MANIFEST_VERSION
        and record.get("files") == listing
        and record.get("size") == stat.st_size
        and record.get("archive_mtime_ns") == stat.st_mtime_ns
    ):
        return record
    return None


# -- choosing files ---------------------------------------------------------


def _scan(root, name, config):
    rules = ExcludeRules(root, config.get("exclude") or [])
    entries = []
    _walk(root, root, "", rules, entries, active={str(root)})
    for special in (f"{DYNALAB_DIR}/{name}/{CONFIG_FILE}", f"{DYNALAB_DIR}/{config['task']}.json"):
        absolute = root / special
        if absolute.is_file() and not absolute.is_symlink():
            entries.append(_entry(special, absolute))
    return sorted(entries, key=lambda entry: entry.path)


class ExcludeRules:
    """``exclude`` entries: paths relative to the root (a folder excludes its content), or globs."""

    def __init__(self, root, patterns):
        self.paths, self.globs = set(), []
        for pattern in patterns:
            text = str(pattern).replace("\\", "/")
            if os.path.isabs(text):
                try:
                    text = Path(text).resolve().relative_to(root).as_posix()
                except ValueError:
                    continue  # outside the root: nothing there is packaged anyway
            text = posixpath.normpath(text).lstrip("/")
            if any(char in text for char in "*?["):
                self.globs.append(text)
            else:
                self.paths.add(text)

    def match(self, relative):
        """The exclude entry that leaves ``relative`` out, or None."""
        parts = relative.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if prefix in self.paths:
                return prefix
            for glob in self.globs:
                if fnmatchcase(prefix, glob):
                    return glob
        return None


def _walk(root, directory, prefix, rules, entries, active):
    try:
        children = sorted(os.scandir(directory), key=lambda child: child.name)
    except OSError as error:
        raise ConfigError(f"cannot read folder {prefix or '.'}: {error.strerror}")
    for child in children:
        relative = prefix + child.name
        if not prefix and child.name in (DYNALAB_DIR, SUBMISSIONS_DIR):
            continue  # only the files named in _scan are packaged from there
        if child.name in SKIPPED_DIRS or child.name.endswith(SKIPPED_SUFFIXES) or rules.match(relative):
            continue
        real = child.path
        if child.is_symlink():
            real = _check_link(root, relative, child.path)
        if os.path.isdir(real):
            if real in active:
                continue  # a link back to a folder being walked: its files are packaged once already
            _walk(root, real, relative + "/", rules, entries, active | {real})
        elif os.path.isfile(real):
            entries.append(_entry(relative, real))
        # sockets, fifos and devices have no place in a package


def _check_link(root, relative, path):
    """A symlink is packaged as what it points to, which must exist inside the root."""
    real = os.path.realpath(path)
    if not os.path.exists(real):
        raise ConfigError(
            f"{relative} is a symlink to {os.readlink(path)}, which does not exist",
            hint="remove the link, or add it to `exclude`",
        )
    if real != str(root) and not real.startswith(str(root) + os.sep):
        raise ConfigError(
            f"{relative} is a symlink to {real}, outside the project root {root}",
            hint="copy the file into the project instead of linking to it, or add the link to `exclude`",
        )
    return real


def _entry(relative, source):
    stat = os.stat(source)
    return _Entry(relative, os.fspath(source), stat.st_size, stat.st_mtime_ns, bool(stat.st_mode & 0o111))


# -- writing ------------------------------------------------------------------


def _write_tar_gz(raw, entries):
    """Write the tar stream of ``entries`` as gzip members; return (sha256, size)."""
    out = _GzipMembers(raw)
    for entry in entries:
        out.level(_level_for(entry))
        out.write(_tar_header(entry))
        copied = 0
        with open(entry.source, "rb") as source:
            while True:
                chunk = source.read(CHUNK)
                if not chunk:
                    break
                copied += len(chunk)
                out.write(chunk)
        if copied != entry.size:
            raise DynalabError(
                f"{entry.path} changed while it was being packaged ({entry.size} bytes expected, {copied} read)",
                hint="run the command again once nothing writes to the project",
            )
        out.write(b"\0" * (-entry.size % tarfile.BLOCKSIZE))
    # End of archive: two zero blocks, padded to a full record as tar does.
    out.level(TEXT_LEVEL)
    out.write(b"\0" * (2 * tarfile.BLOCKSIZE))
    out.write(b"\0" * (-out.uncompressed % tarfile.RECORDSIZE))
    out.close()
    return out.sha256.hexdigest(), out.size


def _tar_header(entry):
    info = tarfile.TarInfo(entry.path)
    info.size = entry.size
    info.mtime = 0
    info.mode = 0o755 if entry.executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _level_for(entry):
    """Level 0 for big files that do not compress, a fast level for other big ones."""
    if entry.size < SMALL_FILE:
        return TEXT_LEVEL
    sample = bytearray()
    with open(entry.source, "rb") as source:
        for offset in (0, entry.size // 2, entry.size - SAMPLE):
            source.seek(max(offset, 0))
            sample += source.read(SAMPLE)
    if len(zlib.compress(bytes(sample), 1)) > STORE_RATIO * len(sample):
        return STORED
    return FAST_LEVEL if entry.size > BIG_FILE else TEXT_LEVEL


class _GzipMembers:
    """A gzip file made of one member per run of equal compression level.

    Headers carry no timestamp or name and OS "unknown", so the bytes depend
    only on the content.
    """

    HEADER = b"\x1f\x8b\x08\x00" + b"\0\0\0\0" + b"\x00\xff"

    def __init__(self, raw):
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0
        self.uncompressed = 0
        self.current = None
        self.compressor = None

    def level(self, level):
        if level == self.current:
            return
        self._end_member()
        self.current = level
        self.compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
        self.crc = 0
        self.length = 0
        self._emit(self.HEADER)

    def write(self, data):
        self.crc = zlib.crc32(data, self.crc)
        self.length += len(data)
        self.uncompressed += len(data)
        self._emit(self.compressor.compress(data))

    def close(self):
        self._end_member()

    def _end_member(self):
        if self.compressor is None:
            return
        self._emit(self.compressor.flush())
        self._emit(struct.pack("<II", self.crc, self.length & 0xFFFFFFFF))
        self.compressor = None
        self.current = None

    def _emit(self, data):
        if data:
            self.raw.write(data)
            self.sha256.update(data)
            self.size += len(data)
