"""The deterministic tar.gz writer behind ``dynalab.packaging.build_archive``.

Members are written in the order given, with owner, times and modes fixed,
and gzip headers without a timestamp, so the bytes (and their sha256) depend
only on the content. The output is several concatenated gzip members, which
gzip, GNU tar and Python's ``tarfile`` all read as one stream: text is
compressed in a shared member, while a big file that does not compress (a
checkpoint) is stored in its own member at level 0, so packaging weights costs
a copy, not minutes.
"""

import hashlib
import struct
import tarfile
import zlib

from dynalab.errors import DynalabError

CHUNK = 1 << 20
SMALL_FILE = 256 * 1024  # below this, always compressed with the text
BIG_FILE = 32 * 1024 * 1024  # compressible files above this get a fast level
SAMPLE = 64 * 1024
STORE_RATIO = 0.9  # a sample that shrinks less than 10% is stored as is
TEXT_LEVEL, FAST_LEVEL, STORED = 6, 1, 0


def write_tar_gz(raw, entries):
    """Write the tar stream of ``entries`` (``selection.PackageFile``) to ``raw`` as gzip members;
    return (sha256, size).
    """
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
