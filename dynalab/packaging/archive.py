"""The submission archive: what upload sends and the integrated test unpacks.

Which files it holds is decided in ``selection.py``; the deterministic tar.gz
is written by ``archive_writer.py``, so the archive's sha256 fingerprints the
content. Here: building the archive, or reusing the last one when no packaged
file changed.
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from dynalab.files import atomic_write_text, replacing
from dynalab.packaging.archive_writer import write_tar_gz
from dynalab.packaging.selection import scan

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


def build_archive(project_root, name, config, out_path, force=False, entries=None):
    """Write the archive to ``out_path`` (atomically), or reuse it if nothing changed.

    ``entries`` is the ``selection.scan`` of the project when the caller has
    made it already (one walk of the tree per command). Reuse needs the same
    file list, sizes and mtimes as the recorded build (``<out_path>.manifest.json``),
    so a rerun only costs that walk.
    """
    out_path = Path(out_path)
    if entries is None:
        entries = scan(Path(project_root).resolve(), name, config)
    files = [entry.path for entry in entries]
    listing = [[e.path, e.size, e.mtime_ns, e.executable] for e in entries]
    manifest_path = out_path.with_name(out_path.name + ".manifest.json")
    if not force:
        reused = _reusable(out_path, manifest_path, listing)
        if reused:
            return ArchiveInfo(out_path, reused["sha256"], reused["size"], len(files), files, reused=True)

    with replacing(out_path, mode=0o644) as partial, open(partial, "wb") as raw:
        sha256, size = write_tar_gz(raw, entries)
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
