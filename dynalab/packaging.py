"""The submission archive: what upload sends and the integrated test unpacks.

Which files it holds is decided in ``dynalab.package_files``; the
deterministic tar.gz is written by ``dynalab.archive_writer``, so the
archive's sha256 fingerprints the content. Here: building the archive, or
reusing the last one when no packaged file changed.
"""

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dynalab.archive_writer import write_tar_gz
from dynalab.atomic import atomic_write_text
from dynalab.package_files import ExcludeRules, list_package_files, scan

__all__ = ["ArchiveInfo", "ExcludeRules", "build_archive", "list_package_files"]

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ArchiveInfo:
    """A built (or reused) archive: its path, sha256, size in bytes and members."""

    path: Path
    sha256: str
    size: int
    file_count: int
    files: list = field(repr=False)
    reused: bool = False


def build_archive(project_root, name, config, out_path, force=False):
    """Write the archive to ``out_path`` (atomically), or reuse it if nothing changed.

    Reuse needs the same file list, sizes and mtimes as the recorded build
    (``<out_path>.manifest.json``), so a rerun only costs a walk of the tree.
    """
    root = Path(project_root).resolve()
    out_path = Path(out_path)
    entries = scan(root, name, config)
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
            sha256, size = write_tar_gz(raw, entries)
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
