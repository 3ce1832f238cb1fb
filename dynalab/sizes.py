"""Sizes in bytes, as people write them (``16g``, ``512m``) and as Dynalab prints them (``1.5 GB``).

One notation both ways: a number and an optional unit ``b``, ``k``, ``m`` or
``g`` (any case), in powers of 1024, as Docker reads a memory limit.
"""

import re

UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
SIZE_PATTERN = r"[0-9]+(\.[0-9]+)?[bkmgBKMG]?"
"""A size as the config's ``integrated_test.docker.memory`` takes it."""
PRINTED = ("B", "KB", "MB", "GB")


def parse_size(text):
    """Bytes in ``text`` (e.g. ``16g``, ``512m``, ``100b``, ``1024``); ValueError when it is not a size."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([bkmg]?)", str(text).strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a size such as 16g or 512m")
    return int(float(match.group(1)) * UNITS[match.group(2)])


def human_size(size):
    """``size`` bytes as "512 B", "1.5 KB", "20.0 MB" or "2.1 GB"."""
    for unit in PRINTED:
        if size < 1024 or unit == PRINTED[-1]:
            return f"{size} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
