"""Fingerprints of a step's inputs, and a cache that spares re-hashing big files.

A file's digest is cached against its size, mtime and inode, so a multi-GB
checkpoint is hashed once and then only ``stat``-ed on every rerun.
"""

import hashlib
import json
import os

from dynalab.files import atomic_write_text, sha256_file


class HashCache:
    """sha256 digests of files, remembered in a JSON file between runs."""

    def __init__(self, path):
        self.path = path
        self.changed = False
        try:
            self.entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}

    def digest(self, file_path):
        stat = os.stat(file_path)
        key = os.fspath(file_path)
        signature = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        entry = self.entries.get(key)
        if entry and entry[:3] == signature:
            return entry[3]
        digest = sha256_file(file_path)
        self.entries[key] = signature + [digest]
        self.changed = True
        return digest

    def save(self):
        if self.changed:
            atomic_write_text(self.path, json.dumps(self.entries, sort_keys=True))
            self.changed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.save()


def fingerprint(inputs):
    """One digest over a JSON-serialisable description of a step's inputs."""
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
