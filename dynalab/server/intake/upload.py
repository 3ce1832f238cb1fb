"""Accepting one model upload: receive and check, then record it, or leave no trace.

Steps: refuse what the headers already rule out (a body over the size limit:
refused before a byte of it is read) and users with uploads in progress
already; stream the form into a temporary file while the archive check reads
the same bytes, checking the name, task and quota as soon as those fields
arrive; then, under one lock, check the quota again, move the file into the
blob store and add the record, with its deployment queued (``lifecycle``).
Every refusal or interruption on the way deletes the temporary file, and no
record exists before the last step.

A refusal is answered at once. The client may still be sending: uvicorn reads
and drops the rest of a body of known length, so the client gets the answer
rather than a reset connection; a body of unknown length gets its connection
closed.
"""

import logging
import sqlite3
import threading
from contextlib import contextmanager

from sqlalchemy.exc import OperationalError
from starlette.concurrency import run_in_threadpool

from dynalab.project.layout import MODEL_NAME_PATTERN
from dynalab.server import lifecycle, publishing
from dynalab.server.db.models import Upload
from dynalab.server.intake.archive_check import ArchiveCheck, ArchiveRejected
from dynalab.server.intake.form import FormRejected, UploadForm
from dynalab.server.intake.storage import DiskFull, IncomingFile, TooLarge
from dynalab.server.quota import QuotaExceeded, check_quota

log = logging.getLogger("dynalab.server")

# Room for the multipart boundaries and the small text fields around the file.
FORM_OVERHEAD = 64 * 1024
# Uploads one user may have in progress at once: each holds a temporary file and a check.
MAX_UPLOADS_IN_PROGRESS = 2
POSTGRES_DISK_FULL = "53100"


class UploadRefused(Exception):
    """Raised when an upload is refused; ``status`` and ``body`` make the HTTP answer."""

    def __init__(self, status, detail, body=None, headers=None):
        super().__init__(detail)
        self.status = status
        self.body = body or {"detail": detail}
        self.headers = headers or {}


class UploadIntake:
    """Shared by all requests of one app: the commit lock keeps quota checks race-free."""

    def __init__(self, settings, db, catalog, blobs, queued=None):
        self.settings = settings
        self.db = db
        self.catalog = catalog
        self.blobs = blobs
        self.queued = queued  # called once an accepted upload's deployment is queued
        self._commit_lock = threading.Lock()
        self._in_progress = {}  # user id -> uploads being received (touched from the event loop only)

    async def receive(self, request, user):
        """Receive the upload in ``request`` from ``user``; returns the new record as JSON."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.settings.max_upload_bytes + FORM_OVERHEAD:
            refusal = _as_refusal(TooLarge(self.settings.max_upload_bytes))
            refusal.headers["Connection"] = "close"  # the body is not read at all
            log.info("upload by %s refused (413) from its Content-Length: %s", user.email, declared)
            raise refusal
        form = None
        try:
            with self._one_more_upload(user):
                form = UploadForm(request.headers.get("content-type"), self._open_file, self._early_check(user))
                record, summary = await self._accept(form, request.stream(), user)
        except (UploadRefused, FormRejected, TooLarge, ArchiveRejected, QuotaExceeded, DiskFull) as error:
            refusal = _as_refusal(error)
            if isinstance(error, DiskFull):
                log.warning("upload by %s refused (507): %s", user.email, error)
            else:
                log.info("upload by %s refused (%s): %s", user.email, refusal.status, refusal)
            if not declared.isdigit():
                refusal.headers["Connection"] = "close"  # no telling how much more would come
            raise refusal from None
        finally:
            if form is not None and form.file is not None:
                form.file.discard()
        log.info("upload by %s accepted: %s (%d archive members, %d bytes unpacked)",
                 user.email, record, summary.members, summary.unpacked_bytes)
        return record

    @contextmanager
    def _one_more_upload(self, user):
        count = self._in_progress.get(user.id, 0)
        if count >= MAX_UPLOADS_IN_PROGRESS:
            raise UploadRefused(429, f"you have {count} uploads in progress already: "
                                     "wait until one of them is answered, then send this one")
        self._in_progress[user.id] = count + 1
        try:
            yield
        finally:
            self._in_progress[user.id] -= 1
            if not self._in_progress[user.id]:
                del self._in_progress[user.id]

    def _open_file(self):
        return CheckedFile(IncomingFile(self.settings.tmp_dir, self.settings.max_upload_bytes),
                           ArchiveCheck(self.settings.max_unpacked_bytes))

    def _early_check(self, user):
        async def before_file(fields):
            self.check_card(fields)  # a bad card is refused before the file is received
            if "name" in fields and "taskCode" in fields:
                _, task_code = self.check_fields(fields)
                await run_in_threadpool(self._check_quota, user.id, task_code)
        return before_file

    async def _accept(self, form, chunks, user):
        """The new record as JSON, and the archive's ``ArchiveSummary``."""
        await form.receive(chunks)
        name, task_code = self.check_fields(form.fields)
        card = self.check_card(form.fields)
        # fsync of up to GBs and a YAML parse: off the event loop.
        sha256, summary = await run_in_threadpool(form.file.finish, name, task_code)
        record = await run_in_threadpool(self._commit, user.id, name, task_code, sha256, form.file.incoming, card)
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

    def check_card(self, fields):
        """The optional field ``card`` (the model card, JSON), checked; clients before it send none."""
        try:
            return publishing.card_from_form_field(fields.get("card", ""))
        except publishing.Refused as error:
            raise UploadRefused(400, str(error)) from None

    def _check_quota(self, user_id, task_code):
        with self.db.session() as session:
            check_quota(session, user_id, task_code, self.catalog.quota(session, task_code))

    def _commit(self, user_id, name, task_code, sha256, incoming, card=None):
        with self._commit_lock, self.db.session() as session:
            check_quota(session, user_id, task_code, self.catalog.quota(session, task_code))
            created = self.blobs.store(incoming, sha256)
            try:
                upload = Upload(user_id=user_id, name=name, task_code=task_code,
                                sha256=sha256, size=incoming.size)
                upload.card = card or {}
                session.add(upload)
                lifecycle.upload_received(session, upload)  # its deployment queued with it
                session.commit()
            except BaseException as error:
                if created:  # no other record can point at content that was new
                    self.blobs.remove(sha256)
                if isinstance(error, OperationalError) and _database_full(error):
                    raise DiskFull("database") from error
                raise
        if self.queued:
            self.queued()
        return upload.as_json()


class CheckedFile:
    """The upload's file sink: each batch is checked, then written to the temporary file."""

    def __init__(self, incoming, check):
        self.incoming = incoming
        self.check = check

    def write(self, data):
        self.check.feed(data)
        self.incoming.write(data)

    def finish(self, model_name, task_code):
        """The content's sha256 and the ``ArchiveSummary``, once all is on disk."""
        summary = self.check.finish().summary(model_name, task_code)
        return self.incoming.finish(), summary

    def discard(self):
        self.incoming.discard()


def _database_full(error):
    original = getattr(error, "orig", None)
    return (getattr(original, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or getattr(original, "sqlstate", None) == POSTGRES_DISK_FULL)


def _as_refusal(error):
    if isinstance(error, UploadRefused):
        return error
    if isinstance(error, TooLarge):
        return UploadRefused(413, str(error))
    if isinstance(error, DiskFull):
        return UploadRefused(507, str(error))
    if isinstance(error, QuotaExceeded):
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else {}
        return UploadRefused(429 if error.retry_after else 403, str(error), error.as_json(), headers)
    return UploadRefused(400, str(error))
