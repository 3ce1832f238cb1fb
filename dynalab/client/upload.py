"""Send a packaged model to the evaluation server and keep a copy of what was sent.

The archive is streamed from disk as a multipart body (requests-toolbelt's
``MultipartEncoder``), so memory stays flat whatever its size; a
``MultipartEncoderMonitor`` callback drives the progress bar.

A POST answered 502-504 is sent again (``retry.resend_on_gateway_errors``),
unless the server's list of the user's models shows it was stored all the
same (a gateway timing out on a server that then succeeded).

Uploads already made are recorded by the caller (``state.yaml``, through
``Receipt.as_record()``); ``was_uploaded`` looks an archive up there, so the
same content is not sent twice by accident and burns no quota.
"""

import datetime
import json
import os
import shutil
import sys
from pathlib import Path
from typing import NamedTuple

import requests
from requests_toolbelt.multipart.encoder import MultipartEncoder, MultipartEncoderMonitor
from tqdm import tqdm

from dynalab.client import api, retry
from dynalab.client.session import UPLOAD_TIMEOUT
from dynalab.errors import DynalabError, ServerError, UploadError
from dynalab.files import replacing, sha256_file
from dynalab.project import Project
from dynalab.sizes import human_size

UPLOAD_PATH = "/models/upload/s3"


class Receipt(NamedTuple):
    """What the server acknowledged, and where the local copy of the archive is."""

    model_id: object
    sha256: str
    size: int
    url: str
    """The model's status page on the server."""
    name: str
    task_code: str
    status: str
    local_copy: str
    uploaded_at: str

    def as_record(self):
        """A plain dict for ``state.yaml``'s list of uploads."""
        return dict(self._asdict())


def upload(url, api_token, name, task_code, archive_path, progress=True, *, root=None, sha256=None,
           session=None, out=print, card=None):
    """Upload ``archive_path`` as model ``name`` for ``task_code``; return a ``Receipt``.

    ``root`` is the project whose ``.dynalab_submissions/`` receives a copy of
    the archive (default: the working directory). ``sha256`` spares hashing the
    archive again when the caller knows it. ``out`` prints retry notices.

    Raises ``AuthError`` (token rejected), ``Throttled`` (quota used up),
    ``UploadError`` (archive refused: too large, malformed; or the server
    stored different bytes), ``ServerError`` (unreachable, interrupted, 5xx).
    """
    archive = Path(archive_path)
    size = archive.stat().st_size
    digest = sha256 or sha256_file(archive)
    with api.own_session(session) as session:
        token = api.bearer(url, api_token, session=session)
        fields = [("name", name), ("taskCode", task_code)]
        if card and any(card.values()):  # servers before model cards get the form they know
            fields.append(("card", json.dumps(card)))
        body = _post_with_retries(session, url, token, fields, archive, digest, progress, out)
    if body.get("sha256") not in (None, digest):
        raise UploadError(
            f"the server at {url} stored an archive with sha256 {body.get('sha256')}, but {archive} has {digest}",
            hint="the archive changed during the upload or was damaged on the way; upload again",
        )
    model_id = body.get("model_id")
    when = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return Receipt(
        model_id=model_id,
        sha256=digest,
        size=size,
        url=f"{url}/models/{model_id}",
        name=body.get("name", name),
        task_code=body.get("task_code", task_code),
        status=body.get("status", ""),
        local_copy=str(keep_copy(archive, root, name, when)),
        uploaded_at=when.isoformat(),
    )


def was_uploaded(uploads, sha256):
    """The record of an earlier successful upload of content ``sha256``, or None.

    ``uploads`` is the list of ``Receipt.as_record()`` dicts kept in state.yaml.
    """
    for record in reversed(list(uploads or [])):
        if isinstance(record, dict) and record.get("sha256") == sha256:
            return record
    return None


def keep_copy(archive, root, name, when):
    """Keep what was sent as ``<root>/.dynalab_submissions/<UTC timestamp>-<name>.tar.gz``."""
    folder = Project(root).submissions_dir
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{when:%Y%m%dT%H%M%SZ}-{name}"
    target = folder / f"{stem}.tar.gz"
    counter = 1
    while target.exists():  # two uploads in the same second
        target = folder / f"{stem}-{counter}.tar.gz"
        counter += 1
    try:
        # A hard link costs no space and is safe: `package` replaces an archive
        # by renaming a new file over it, never by rewriting it in place.
        os.link(archive, target)
    except OSError:
        # Another filesystem, or links unsupported: copy (sendfile, flat memory)
        # under a temporary name, so a half copy never looks like a submission.
        with replacing(target) as partial:
            shutil.copyfile(archive, partial)
    return target


def _post_with_retries(session, url, token, fields, archive, digest, progress, out):
    """The server's receipt (a dict), after up to ``retry.ATTEMPTS`` posts answered 502-504."""
    # A gateway can time out (504) after the server stored the upload: before
    # sending again, look for it, so that a success is not sent twice.
    known = _model_ids(session, url, token)
    answer = retry.resend_on_gateway_errors(
        post=lambda: _post(session, url, token, fields, archive, progress, out),
        stored_meanwhile=lambda: _arrived(session, url, token, known, digest, dict(fields)["name"],
                                          dict(fields)["taskCode"]),
        wait_for=lambda response: api.retry_after_seconds(response.headers.get("Retry-After")),
        out=out,
    )
    return answer if isinstance(answer, dict) else _json(api.check_response(answer, url), url)


def _model_ids(session, url, token):
    """Ids of the user's models, or None when the server cannot list them (not every server can)."""
    models = _list_models(session, url, token)
    return None if models is None else {model.get("model_id") for model in models}


def _arrived(session, url, token, known, digest, name, task_code):
    """The record of this upload if the server stored it despite answering an error; else None."""
    if known is None:
        return None
    for model in _list_models(session, url, token) or []:
        if model.get("model_id") not in known and (model.get("sha256"), model.get("name"), model.get("task_code")) == (
            digest, name, task_code
        ):
            return model
    return None


def _list_models(session, url, token):
    """``api.list_models`` with the bearer ``token``; None when the server cannot list them."""
    try:
        models = api.list_models(url, None, session=session, bearer_token=token)
    except DynalabError:
        return None
    return [model for model in models if isinstance(model, dict)] if isinstance(models, list) else None


class _Progress:
    """Moves the bar as the body is read; once it is all sent, says that the server checks it."""

    def __init__(self, bar, size, out):
        self.bar, self.size, self.out = bar, size, out
        self.sent = False

    def __call__(self, monitor):
        self.bar.update(min(monitor.bytes_read, self.size) - self.bar.n)
        if monitor.bytes_read >= monitor.len and not self.sent:
            self.sent = True
            self.bar.close()  # before the line, so the two do not mix on the terminal
            self.out(f"Sent {human_size(self.size)}; the server is verifying the archive (the bigger, the longer)...")


def _post(session, url, token, fields, archive, progress, out):
    """One attempt: a fresh multipart body of the text ``fields`` and the file, read from its start."""
    name = dict(fields)["name"]
    size = archive.stat().st_size
    show = progress and sys.stderr is not None and sys.stderr.isatty()
    with open(archive, "rb") as stream, tqdm(
        total=size, unit="B", unit_scale=True, unit_divisor=1024, desc=f"Uploading {name}",
        disable=not show, leave=False,
    ) as bar:
        # Text fields first: the server checks the task and the quota before the file arrives.
        encoder = MultipartEncoder(fields=[*fields, ("tarball", (f"{name}.tar.gz", stream, "application/gzip"))])
        monitor = MultipartEncoderMonitor(encoder, _Progress(bar, size, out))
        try:
            return api.send(
                session, "POST", url, UPLOAD_PATH, data=monitor, timeout=UPLOAD_TIMEOUT,
                headers={"Content-Type": monitor.content_type, "Authorization": f"Bearer {token}"},
            )
        except ServerError as error:
            if monitor.bytes_read == 0:
                raise
            if isinstance(error.__cause__, requests.ReadTimeout) and monitor.bytes_read >= monitor.len:
                raise ServerError(
                    f"the server at {url} received the whole archive but did not answer within {UPLOAD_TIMEOUT[1]} s",
                    hint="it may have accepted it all the same: check your uploads on the server before sending it again",
                ) from error
            raise ServerError(
                f"the upload to {url} was interrupted after about {monitor.bytes_read} of {monitor.len} bytes "
                f"({api.connection_failure(error.__cause__ or error)})",
                hint="nothing was recorded on the server; run the upload again",
            ) from error


def _json(response, url):
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ServerError(f"the server at {url} acknowledged the upload without a receipt", hint="ask its administrator")
    return body
