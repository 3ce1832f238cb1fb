"""Reading a .tar.gz as it arrives, chunk by chunk, keeping no member data.

``TarStream.feed`` takes the compressed bytes in whatever pieces the network
delivers. The gzip members are inflated one after the other (the client's
archives are several concatenated members, big files stored at level 0), and
each tar header found is handed to ``on_member`` as a ``TarMember``; a
member's data streams past and is dropped unless ``on_member`` asks for it.
So the verdict is ready when the last byte arrives, and memory stays flat
whatever the archive's size. (``tarfile``'s stream mode reads these archives
at a few hundred KB/s, and it reads long-name and PAX headers whole, whatever
size they declare.)

Understood: ustar and GNU headers, GNU long names and links, PAX extended
headers. Anything else, and anything two tar readers could read differently
(a link or directory with data, a GNU header with a prefix), is refused.
"""

import struct
import zlib
from dataclasses import dataclass

BLOCK = 512
ZERO_BLOCK = bytes(BLOCK)
PIECE = 1 << 20  # most bytes one inflate call may produce: a bomb expands in bounded steps
META_LIMIT = 64 * 1024  # a long name or PAX header is read whole, so its size is capped first
NAME_LIMIT = 4096  # PATH_MAX: no file system takes a longer path
RATIO_GRACE = 64 * 1024 * 1024  # below this much unpacked, any compression ratio is fine

FILE, DIRECTORY, SYMLINK, HARDLINK, DEVICE, FIFO = "file", "directory", "symlink", "hardlink", "device", "fifo"
TYPES = {
    b"0": FILE, b"\0": FILE, b"7": FILE,  # 7: "contiguous file", a regular file everywhere
    b"1": HARDLINK, b"2": SYMLINK, b"3": DEVICE, b"4": DEVICE, b"5": DIRECTORY, b"6": FIFO,
}
LONG_NAME, LONG_LINK, PAX, PAX_GLOBAL, SOLARIS_PAX, SPARSE = b"L", b"K", b"x", b"g", b"X", b"S"
META_TYPES = (LONG_NAME, LONG_LINK, PAX, PAX_GLOBAL, SOLARIS_PAX)
POSIX_MAGIC = b"ustar\x00"
GZIP_MAGIC = b"\x1f\x8b"


class TarStreamError(ValueError):
    """Raised when the stream is not a gzip tar we can read safely; the text says why."""


class Truncated(TarStreamError):
    """Raised by ``close`` when the stream ends before the gzip data or the tar archive does."""


@dataclass(frozen=True)
class TarMember:
    """One archive entry: ``kind`` is one of FILE, DIRECTORY, SYMLINK, HARDLINK, DEVICE, FIFO."""

    name: str
    kind: str
    size: int
    linkname: str
    offset: int  # of its header in the uncompressed tar stream


@dataclass(frozen=True)
class Limits:
    headers: int  # header blocks, long-name and PAX ones included
    unpacked_bytes: int  # of the uncompressed tar stream
    ratio: int  # unpacked bytes per compressed byte, once past RATIO_GRACE


class TarStream:
    """Feed it the compressed bytes; it calls ``on_member(member)`` for each entry.

    When ``on_member`` returns True for a FILE, its data (``member.size``
    bytes: the caller caps that first) is collected and passed to
    ``on_content(member, data)``. ``close()`` says whether the stream was
    complete. Every problem is a ``TarStreamError``.
    """

    def __init__(self, on_member, on_content, limits):
        self.limits = limits
        self.on_member = on_member
        self.on_content = on_content
        self.compressed = 0
        self.unpacked = 0
        self.headers = 0
        self.ended = False  # the tar end-of-archive block was seen
        self._magic = b""
        self._inflater = None  # of the gzip member being read
        self._members_done = 0
        self._block = bytearray()
        self._skip = 0  # bytes of data (and padding) still to drop
        self._collect = None  # (member or meta type, bytearray, bytes left)
        self._meta = {}  # long name / PAX values for the next header

    # The gzip layer.
    def feed(self, data):
        self.compressed += len(data)
        if len(self._magic) < 2:
            self._magic += data[:2 - len(self._magic)]
            if not GZIP_MAGIC.startswith(self._magic):
                raise TarStreamError("the tarball is not gzip-compressed (expected a .tar.gz archive)")
        while data:
            if self._inflater is None:
                # Between members: zero padding is allowed (gzip ignores it), anything else must be gzip.
                data = data.lstrip(b"\0")
                if not data:
                    return
                self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            data = self._inflate(data)

    def _inflate(self, data):
        """Inflate ``data`` into the current member; return what follows the member's end."""
        inflater = self._inflater
        while True:
            try:
                out = inflater.decompress(data, PIECE)
            except zlib.error as error:
                raise TarStreamError(f"the tarball is not valid gzip data ({error})") from None
            if out:
                self._unpacked(out)
            if inflater.eof:
                self._inflater = None
                self._members_done += 1
                return inflater.unused_data
            data = inflater.unconsumed_tail
            # A full piece may leave output pending inside zlib: ask again until it is drained.
            if not data and len(out) < PIECE:
                return b""

    def close(self):
        """Raise ``Truncated`` unless both the gzip stream and the tar archive ended properly."""
        if self._inflater is not None or not self._members_done:
            raise Truncated("the tarball is truncated (the gzip data stops before its end)")
        if not self.ended:
            if self._collect is not None or self._skip or self._block:
                raise Truncated("the tarball is truncated (the archive ends inside a member)")
            raise Truncated("the tarball is truncated (the archive ends before its end marker)")

    def _unpacked(self, data):
        self.unpacked += len(data)
        limits = self.limits
        if self.unpacked > limits.unpacked_bytes:
            raise TarStreamError(f"the archive unpacks to more than {limits.unpacked_bytes} bytes")
        if self.unpacked > RATIO_GRACE and self.unpacked > limits.ratio * self.compressed:
            raise TarStreamError(
                f"the archive expands more than {limits.ratio} times when unpacked (a compression bomb?)")
        if not self.ended:
            self._tar(data)

    # The tar layer: a state machine over the uncompressed stream.
    def _tar(self, data):
        view = memoryview(data)
        pos, end = 0, len(view)
        while pos < end and not self.ended:
            if self._skip:
                step = min(self._skip, end - pos)
                self._skip -= step
                pos += step
            elif self._collect is not None:
                owner, buffer, left = self._collect
                step = min(left, end - pos)
                buffer += view[pos:pos + step]
                pos += step
                self._collect = (owner, buffer, left - step)
                if left == step:
                    self._collect = None
                    self._skip = -len(buffer) % BLOCK
                    self._collected(owner, bytes(buffer))
            else:
                step = min(BLOCK - len(self._block), end - pos)
                self._block += view[pos:pos + step]
                pos += step
                if len(self._block) == BLOCK:
                    block = bytes(self._block)
                    self._block.clear()
                    self._header(block, self.unpacked - len(data) + pos - BLOCK)

    def _header(self, block, offset):
        self.headers += 1
        if self.headers > self.limits.headers:
            raise TarStreamError(f"the archive has more than {self.limits.headers} members")
        if block == ZERO_BLOCK:
            if self._meta:
                raise TarStreamError(f"the archive ends right after a long-name or PAX header (at byte {offset})")
            self.ended = True
            return
        _check_checksum(block, offset)
        typeflag = block[156:157]
        size = _number(block[124:136], "size", offset)
        if typeflag in META_TYPES:
            if size > META_LIMIT:
                raise TarStreamError(
                    f"the archive has a long-name or PAX header of {size} bytes (at byte {offset}); "
                    f"the limit is {META_LIMIT}")
            self._start_collect(typeflag, size)
            return
        if typeflag == SPARSE:
            raise TarStreamError(f"archive member {_quoted(_field(block[0:100]))} is a GNU sparse file "
                                 "(not supported: archive it as a plain file)")
        name = self._meta.pop("path", None)
        if name is None:
            name = _field(block[0:100])
            prefix = _field(block[345:500])
            if prefix and block[257:263] == POSIX_MAGIC:
                name = prefix + b"/" + name
            elif block[345:500].strip(b"\0"):
                raise TarStreamError(f"archive member {_quoted(name)} has a non-standard header (at byte {offset})")
        linkname = self._meta.pop("linkpath", _field(block[157:257]))
        size = self._meta.pop("size", size)
        self._meta.clear()
        kind = TYPES.get(typeflag)
        if typeflag == b"\0" and name.endswith(b"/"):
            kind = DIRECTORY  # the old V7 way of saying "directory"
        if kind is None:
            raise TarStreamError(f"archive member {_quoted(name)} has an unsupported type {typeflag!r}")
        if kind != FILE and size:
            raise TarStreamError(f"archive member {_quoted(name)} is a {kind} but declares {size} bytes of data")
        member = TarMember(_name(name), kind, size, _name(linkname) if linkname else "", offset)
        if self.on_member(member) and kind == FILE:
            self._start_collect(member, size)
        else:
            self._skip = size + (-size % BLOCK)

    def _start_collect(self, owner, size):
        if size:
            self._collect = (owner, bytearray(), size)
        else:
            self._collected(owner, b"")

    def _collected(self, owner, data):
        if isinstance(owner, TarMember):
            self.on_content(owner, data)
        elif owner == LONG_NAME:
            self._meta["path"] = data.split(b"\0", 1)[0]
        elif owner == LONG_LINK:
            self._meta["linkpath"] = data.split(b"\0", 1)[0]
        else:
            records = _pax_records(data)
            if owner == PAX_GLOBAL:
                if records.keys() & {b"path", b"linkpath", b"size"}:
                    # Readers disagree on whether these apply to every later member.
                    raise TarStreamError("the archive has a global PAX header that renames or resizes members")
                return
            for key, value in records.items():
                if key in (b"path", b"linkpath"):
                    self._meta[key.decode()] = value
                elif key == b"size":
                    if not value.isdigit():
                        raise TarStreamError(f"the archive has a PAX size that is not a number ({_quoted(value)})")
                    self._meta["size"] = int(value)
                elif key.startswith(b"GNU.sparse."):
                    raise TarStreamError("the archive holds a GNU sparse file (not supported: archive it as a plain file)")


def _field(raw):
    """A NUL-terminated header field."""
    return raw.split(b"\0", 1)[0]


def _number(raw, what, offset):
    """A numeric header field: octal text, or GNU's base-256 for big values."""
    if raw[:1] == b"\x80":
        return int.from_bytes(raw[1:], "big")
    if raw[:1] == b"\xff":
        raise TarStreamError(f"the archive has a negative {what} in a header (at byte {offset})")
    text = _field(raw).strip(b" ")
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarStreamError(f"the archive has a corrupt header (at byte {offset}): {what} "
                             f"{_quoted(raw)} is not a number") from None


def _check_checksum(block, offset):
    expected = _number(block[148:156], "checksum", offset)
    unsigned = 256 + sum(block[:148]) + sum(block[156:])  # the checksum field counts as spaces
    if expected != unsigned and expected != 256 + sum(struct.unpack("148b8x356b", block)):
        raise TarStreamError(f"the archive has a corrupt header (at byte {offset}): bad checksum "
                             "(is it a tar archive?)")


def _pax_records(data):
    """PAX records ``"<length> <key>=<value>\\n"`` as {key: value} (bytes), last one winning."""
    records = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos, pos + 20)
        length = data[pos:space]
        if space < 0 or not length.isdigit() or int(length) <= space - pos + 1:
            raise TarStreamError("the archive has a malformed PAX header")
        record = data[pos:pos + int(length)]
        key, equals, value = record[space - pos + 1:-1].partition(b"=")
        if not record.endswith(b"\n") or not equals:
            raise TarStreamError("the archive has a malformed PAX header")
        records[key] = value
        pos += int(length)
    return records


def _name(raw):
    if len(raw) > NAME_LIMIT:
        raise TarStreamError(f"archive member {_quoted(raw[:100])}... has a name longer than {NAME_LIMIT} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise TarStreamError(f"archive member {_quoted(raw)} has a name that is not UTF-8 "
                             "(rename the file with letters the server can read)") from None


def _quoted(raw):
    """Header bytes as quoted text, an undecodable byte shown as ``\\xff``."""
    return "'" + raw.decode("utf-8", "backslashreplace") + "'"
