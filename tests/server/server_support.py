"""Helpers for the server's tests: archives (good and hostile) and a small API client."""

import io
import re
import tarfile

import requests

MODEL = "m"


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
