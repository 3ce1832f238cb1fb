"""Accepting one model upload: receive, check, then record it, or leave no trace.

Steps: refuse early what the headers already rule out (size); stream the
form into a temporary file, checking the name, task and quota as soon as those
fields arrive; check the archive; then, under one lock, check the quota again,
move the file into the blob store and add the record. Every refusal or
interruption on the way deletes the temporary file, and no record exists
before the last step.
"""

import logging
import threading

from starlette.concurrency import run_in_threadpool

from dynalab.project import MODEL_NAME_PATTERN
from dynalab.server.archive_check import ArchiveRejected, check_archive
from dynalab.server.db import Upload
from dynalab.server.quota import QuotaExceeded, check_quota
from dynalab.server.storage import TooLarge
from dynalab.server.upload_form import FormRejected, UploadForm

log = logging.getLogger("dynalab.server")

# Room for the multipart boundaries and the small text fields around the file.
FORM_OVERHEAD = 64 * 1024
# After a refusal the rest of the body is read (up to this much) and dropped, so
# that the client, still sending, gets the answer rather than a reset connection.
DRAIN_LIMIT = 64 * 1024 * 1024


class UploadRefused(Exception):
    """Raised when an upload is refused; ``status`` and ``body`` make the HTTP answer."""

    def __init__(self, status, detail, body=None, headers=None):
        super().__init__(detail)
        self.status = status
        self.body = body or {"detail": detail}
        self.headers = headers or {}


class UploadIntake:
    """Shared by all requests of one app: the commit lock keeps quota checks race-free."""

    def __init__(self, settings, db, catalog, blobs):
        self.settings = settings
        self.db = db
        self.catalog = catalog
        self.blobs = blobs
        self._commit_lock = threading.Lock()

    async def receive(self, request, user):
        """Receive the upload in ``request`` from ``user``; returns the new record as JSON."""
        chunks = request.stream()
        form = None
        try:
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.settings.max_upload_bytes + FORM_OVERHEAD:
                raise TooLarge(self.settings.max_upload_bytes)
            form = UploadForm(request.headers.get("content-type"), self.settings.tmp_dir,
                              self.settings.max_upload_bytes, self._early_check(user))
            record, summary = await self._accept(form, chunks, user)
        except (UploadRefused, FormRejected, TooLarge, ArchiveRejected, QuotaExceeded) as error:
            _discard(form)
            refusal = _as_refusal(error)
            log.info("upload by %s refused (%s): %s", user.email, refusal.status, refusal)
            # A client waiting for "100 Continue" has sent no body yet; reading would invite it.
            if form is not None or "100-continue" not in request.headers.get("expect", "").lower():
                await _drain(chunks)
            raise refusal from None
        finally:
            _discard(form)
        log.info("upload by %s accepted: %s (%d archive members, %d bytes unpacked)",
                 user.email, record, summary.members, summary.unpacked_bytes)
        return record

    def _early_check(self, user):
        async def before_file(fields):
            if "name" in fields and "taskCode" in fields:
                _, task_code = self.check_fields(fields)
                await run_in_threadpool(self._check_quota, user.id, task_code)
        return before_file

    async def _accept(self, form, chunks, user):
        """The new record as JSON, and the archive's ``ArchiveSummary``."""
        await form.receive(chunks)
        name, task_code = self.check_fields(form.fields)
        sha256 = await run_in_threadpool(form.incoming.finish)  # fsync of up to GBs: off the event loop
        summary = await run_in_threadpool(check_archive, form.incoming.path, name, task_code,
                                          self.settings.max_unpacked_bytes)
        record = await run_in_threadpool(self._commit, user.id, name, task_code, sha256, form.incoming)
        return record, summary

    def check_fields(self, fields):
        name = fields.get("name", "").strip()
        task_code = fields.get("taskCode", "").strip()
        if not name:
            raise UploadRefused(400, "missing form field `name` (the model's name)")
        if not MODEL_NAME_PATTERN.match(name) or len(name) > 100:
            raise UploadRefused(400, f"`name` {name!r} is not a valid model name: "
                                     "use lowercase letters, digits and '-' only")
        if not task_code:
            raise UploadRefused(400, "missing form field `taskCode` (the task's code)")
        if task_code not in self.catalog:
            raise UploadRefused(400, f"unknown task {task_code!r} (this server accepts: "
                                     f"{', '.join(self.catalog.codes())})")
        return name, task_code

    def _check_quota(self, user_id, task_code):
        with self.db.session() as session:
            check_quota(session, user_id, task_code, self.catalog.quota(session, task_code))

    def _commit(self, user_id, name, task_code, sha256, incoming):
        with self._commit_lock, self.db.session() as session:
            check_quota(session, user_id, task_code, self.catalog.quota(session, task_code))
            created = self.blobs.store(incoming, sha256)
            try:
                upload = Upload(user_id=user_id, name=name, task_code=task_code,
                                sha256=sha256, size=incoming.size)
                session.add(upload)
                session.commit()
            except BaseException:
                if created:  # no other record can point at content that was new
                    self.blobs.remove(sha256)
                raise
            return upload.as_json()


def _as_refusal(error):
    if isinstance(error, UploadRefused):
        return error
    if isinstance(error, TooLarge):
        return UploadRefused(413, str(error))
    if isinstance(error, QuotaExceeded):
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
        return UploadRefused(429 if error.retry_after else 403, str(error), error.as_json(), headers)
    return UploadRefused(400, str(error))


def _discard(form):
    if form is not None and form.incoming is not None:
        form.incoming.discard()


async def _drain(chunks):
    received = 0
    try:
        async for chunk in chunks:
            received += len(chunk)
            if received > DRAIN_LIMIT:
                break
    except Exception:  # the client went away or the stream was already finished
        pass
