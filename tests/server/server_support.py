"""Helpers for the server's tests: archives (good and hostile) and a small API client."""

import io
import os
import re
import socket
import struct
import tarfile
import time
import uuid
import zlib
from contextlib import contextmanager

import requests

MODEL = "m"
POSTGRES_URL = os.environ.get("DYNALAB_TEST_POSTGRES_URL",
                              "postgresql+psycopg://dynalab:dynalab@127.0.0.1:5432/dynalab_test")


def postgres_reachable(url=POSTGRES_URL):
    try:
        import sqlalchemy

        engine = sqlalchemy.create_engine(url)
        with engine.connect():
            return True
    except Exception:  # no driver, no server, bad credentials: all mean "not here"
        return False
    finally:
        if "engine" in locals():
            engine.dispose()


@contextmanager
def postgres_schema(prefix, url=POSTGRES_URL):
    """The URL of a new, empty schema of the test database (which is shared), dropped afterwards."""
    import sqlalchemy

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(url)
    with admin.begin() as connection:
        connection.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def member(name, data=b"", kind=tarfile.REGTYPE, linkname=""):
    """One archive entry: a file with ``data``, or a link/device/fifo/dir of ``kind``."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def config(name=MODEL, task="nli", legacy=False, prefix=""):
    """The model's config, valid as ``dynalab-cli`` writes it (or as the original tool did)."""
    if legacy:
        return member(f"{prefix}.dynalab/{name}/setup_config.json",
                      f'{{"task": "{task}", "checkpoint": "model.pt", "handler": "handler.py",'
                      f' "model_files": [], "requirements": false, "setup": false}}'.encode())
    return member(f"{prefix}.dynalab/{name}/config.yaml",
                  f"task: {task}\ncheckpoint: model.pt\nhandler: handler.py\n".encode())


def tar_gz(*members):
    """The bytes of a gzip tar holding ``members`` (from ``member``/``config``)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def model_archive(name=MODEL, task="nli", payload=b"weights" * 100, *extra):
    return tar_gz(config(name, task), member("handler.py", b"def handle(data, context):\n    return []\n"),
                  member("model.pt", payload), *extra)


def leftovers(server):
    """Files in the data dir's upload folders (in flight and stored)."""
    return [p for folder in ("tmp", "blobs") for p in (server.data_dir / folder).rglob("*") if p.is_file()]


def wait_for(condition, timeout=10.0):
    """True once ``condition()`` is, polling for up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)
    return condition()


class Api:
    """The HTTP calls the client makes, with nothing hidden: each returns the response."""

    def __init__(self, url):
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False  # loopback only, never through a proxy from the environment

    def get(self, path, **kwargs):
        return self.http.get(self.url + path, timeout=30, **kwargs)

    def refresh(self, api_token):
        return self.get("/authenticate/refresh_from_api", params={"api_token": api_token})

    def bearer(self, api_token):
        response = self.refresh(api_token)
        assert response.status_code == 200, response.text
        return response.json()["token"]

    def upload(self, bearer, archive, name=MODEL, task="nli"):
        return self.http.post(
            self.url + "/models/upload/s3",
            headers={"Authorization": f"Bearer {bearer}"},
            data={"name": name, "taskCode": task},
            files={"tarball": (f"{name}.tar.gz", archive, "application/gzip")},
            timeout=60,
        )

    def model(self, bearer, model_id):
        return self.get(f"/models/{model_id}", headers={"Authorization": f"Bearer {bearer}"})

    def models(self, bearer):
        return self.get("/models", headers={"Authorization": f"Bearer {bearer}"})


class Browser:
    """A person on the /generate_api_token pages: keeps cookies, sends each form's CSRF token."""

    CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')

    def __init__(self, url, headers=None):
        self.url = url
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers.update(headers or {})
        self.page = None

    @property
    def csrf(self):
        return self.CSRF.search(self.page.text).group(1)

    def open(self):
        self.page = self.http.get(self.url + "/generate_api_token", timeout=30)
        return self.page

    def submit(self, action, csrf=None, **fields):
        """Post the page's form for ``action``, with the CSRF token the page holds (or ``csrf``)."""
        data = {"csrf_token": self.csrf if csrf is None else csrf, "action": action, **fields}
        self.page = self.http.post(self.url + "/generate_api_token", data=data, timeout=30)
        return self.page

    def sign_in(self, email, password):
        self.open()
        return self.submit("sign_in", email=email, password=password)

    def token(self):
        """The token the page shows, or None."""
        match = re.search(r'<code class="token" id="token">([^<]+)</code>', self.page.text)
        return match.group(1) if match else None


def header(name, kind, size):
    """One raw tar header block declaring ``size`` bytes of data, whatever follows it."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    return info.tobuf(tarfile.GNU_FORMAT)


def gzip_stream(*parts, level=6):
    """Gzip of ``parts`` in order: bytes, or an int meaning that many zero bytes (GBs in a second)."""
    deflate = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS)
    out = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"]
    crc = size = 0
    for part in parts:
        if isinstance(part, int):
            piece = bytes(1 << 20)
            count, rest = divmod(part, len(piece))
            if count:
                # After a full flush, deflate's output depends on its input alone: compress
                # one piece of zeros and repeat the bytes.
                out.append(deflate.flush(zlib.Z_FULL_FLUSH))
                out.append((deflate.compress(piece) + deflate.flush(zlib.Z_FULL_FLUSH)) * count)
                for _ in range(count):
                    crc = zlib.crc32(piece, crc)
                size += count * len(piece)
            part = bytes(rest)
        out.append(deflate.compress(part))
        crc = zlib.crc32(part, crc)
        size += len(part)
    out.append(deflate.flush())
    out.append(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return b"".join(out)


def header_bomb(kind, declared, *, sent=None):
    """A gzip tar whose first header (long name or PAX, ``kind``) declares ``declared`` bytes,
    followed by ``sent`` zero bytes (all of them by default): a small upload that unpacks big."""
    return gzip_stream(header("././@LongLink", kind, declared), declared if sent is None else sent)


def tiny_members(count):
    """A gzip tar of ``count`` empty files: about 1 MB per 150,000, each a header to check."""
    template = bytearray(header("f/0000000", tarfile.REGTYPE, 0))
    blocks = []
    for i in range(count):
        template[0:9] = b"f/%07d" % i
        template[148:156] = b"        "
        template[148:156] = b"%06o\0 " % sum(template)
        blocks.append(bytes(template))
    return gzip_stream(b"".join([*tar_gz_members_of(config()), *blocks, bytes(1024)]))


def tar_gz_members_of(*members):
    """The raw (uncompressed) tar blocks of ``members``, without the end marker."""
    blocks = []
    for info, data in members:
        blocks.append(info.tobuf(tarfile.GNU_FORMAT))
        if info.isreg():
            blocks.append(data + bytes(-len(data) % tarfile.BLOCKSIZE))
    return blocks


class RawUpload:
    """An upload written by hand on a socket, to stop half-way, go silent or lie about its length.

    ``RawUpload(url, bearer, file_size)`` sends the request head and the form up to the
    file's first byte; ``send`` sends file bytes; ``answer`` reads what the server says.
    """

    BOUNDARY = "dynalab-test-boundary"

    def __init__(self, url, bearer, file_size, name=MODEL, task="nli", timeout=30):
        self.form_head = (
            f"--{self.BOUNDARY}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n{name}\r\n"
            f"--{self.BOUNDARY}\r\nContent-Disposition: form-data; name=\"taskCode\"\r\n\r\n{task}\r\n"
            f"--{self.BOUNDARY}\r\nContent-Disposition: form-data; name=\"tarball\"; filename=\"m.tar.gz\"\r\n"
            "Content-Type: application/gzip\r\n\r\n").encode()
        self.form_tail = f"\r\n--{self.BOUNDARY}--\r\n".encode()
        host, port = url.rsplit("/", 1)[1].rsplit(":", 1)
        self.socket = socket.create_connection((host, int(port)), timeout=timeout)
        self.socket.sendall(
            f"POST /models/upload/s3 HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {bearer}\r\n"
            f"Content-Length: {len(self.form_head) + file_size + len(self.form_tail)}\r\n"
            f"Content-Type: multipart/form-data; boundary={self.BOUNDARY}\r\n\r\n".encode() + self.form_head)

    def send(self, data):
        self.socket.sendall(data)

    def finish(self):
        self.socket.sendall(self.form_tail)

    def answer(self):
        """(status, body text) of the server's answer, or None if it closed the connection without one."""
        return read_answer(self.socket)

    def close(self):
        self.socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_answer(sock):
    """(status, body) of the HTTP answer on ``sock``; None when it is closed with no answer."""
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), body.decode("utf-8", "replace")


def closed_by_peer(sock):
    """True once the other end has closed ``sock`` (waits up to the socket's timeout)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
