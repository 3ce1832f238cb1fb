"""Writes 1 GB to its temporary folder at load, 64 MB at a time: more than a small memory limit."""

import tempfile


def handle(data, context):
    if data is None:
        with tempfile.TemporaryFile() as scratch:
            for _ in range(16):
                scratch.write(b"\1" * (64 << 20))
                scratch.flush()
    return None
