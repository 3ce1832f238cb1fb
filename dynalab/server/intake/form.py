"""Receive the upload form (``name``, ``taskCode``, file ``tarball``) as a stream.

The request body goes straight from the socket to the file sink the caller
opens (in the server, a temporary file in the data dir and the archive check):
never whole in memory, never in the system's temporary folder. File bytes are
handed over in batches of about 1 MiB to a worker thread, so that hashing,
checking and writing them keep the event loop free, and one batch is written
while the next arrives. (Starlette's own form
parser would first spool the whole file elsewhere, without a limit.)
"""

import asyncio

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

FILE_FIELD = "tarball"
MAX_FIELD_BYTES = 1024
FIELD_LIMITS = {"card": 16 * 1024}  # the model card (JSON), which holds a description
MAX_HEADER_BYTES = 8 * 1024  # of one part's headers
MAX_PARTS = 16
BATCH_BYTES = 1 << 20


class FormRejected(Exception):
    """Raised when the request body is not the expected multipart form; the text says why."""


class UploadForm:
    """Parses one multipart body; ``fields`` holds the text fields, ``file`` the file sink.

    ``open_file()`` makes the sink when the file part starts: an object whose
    ``write(data)`` is called from a worker thread, one batch at a time.
    ``await before_file(fields)`` runs once the file part has started, with the
    text fields sent before it, so a refusal (unknown task, quota) comes before
    the file is received rather than after.
    """

    def __init__(self, content_type, open_file, before_file=None):
        _, params = parse_options_header(content_type or "")
        boundary = params.get(b"boundary")
        if not content_type or not content_type.startswith("multipart/form-data") or not boundary:
            raise FormRejected("expected a multipart/form-data body with fields name, taskCode and tarball")
        self.open_file = open_file
        self.before_file = before_file
        self.fields = {}
        self.file = None
        self._complete = False
        self._parts = 0
        self._header_bytes = 0
        self._header_name = b""
        self._header_value = b""
        self._batch = bytearray()  # file bytes not yet handed to the sink
        self._writer = None  # the batch being written, an asyncio future
        self._disposition = b""
        self._field = None  # name of the text field being received
        self._value = bytearray()
        self._in_file = False
        self._fields_before_file = None  # set when the file starts, until before_file ran
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        })

    async def receive(self, chunks):
        """Feed the body from the async iterator ``chunks``; the caller discards ``file`` on error."""
        try:
            await self._receive(chunks)
        finally:
            # Never leave a batch being written behind: the caller is about to close the file.
            await self._wait_for_writer(raise_errors=False)
        return self

    async def _receive(self, chunks):
        try:
            async for chunk in chunks:
                self._parser.write(chunk)
                if self._fields_before_file is not None:
                    fields, self._fields_before_file = self._fields_before_file, None
                    if self.before_file:
                        await self.before_file(fields)
                if len(self._batch) >= BATCH_BYTES or (self._batch and not self._in_file):
                    await self._hand_over()
            self._parser.finalize()
        except FormParserError as error:
            raise FormRejected(f"the multipart body is malformed ({error})")
        if not self._complete:
            raise FormRejected("the multipart body ended early (no closing boundary)")
        if self.file is None:
            raise FormRejected("the form has no file field `tarball`")
        await self._hand_over()
        await self._wait_for_writer()

    async def _hand_over(self):
        """Start writing the batch in a worker thread, once the previous batch is written.

        One batch is written while the next one is received: at most two in memory.
        """
        await self._wait_for_writer()
        if self._batch:
            batch, self._batch = self._batch, bytearray()
            self._writer = asyncio.ensure_future(run_in_threadpool(self.file.write, batch))

    async def _wait_for_writer(self, raise_errors=True):
        writer, self._writer = self._writer, None
        if writer is None:
            return
        try:
            await asyncio.shield(writer)  # a cancelled request still waits for the thread to finish
        except Exception:
            if raise_errors:
                raise

    # python-multipart callbacks, called from ``parser.write``.
    def _part_begin(self):
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise FormRejected(f"the form has more than {MAX_PARTS} parts")
        self._disposition = b""
        self._header_bytes = 0
        self._field = None
        self._value = bytearray()
        self._in_file = False

    def _header_field(self, data, start, end):
        self._count_header_bytes(end - start)
        self._header_name += data[start:end]

    def _header_value_data(self, data, start, end):
        self._count_header_bytes(end - start)
        self._header_value += data[start:end]

    def _count_header_bytes(self, count):
        self._header_bytes += count
        if self._header_bytes > MAX_HEADER_BYTES:
            raise FormRejected(f"a form part has more than {MAX_HEADER_BYTES} bytes of headers")

    def _header_end(self):
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def _headers_finished(self):
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if not name:
            raise FormRejected("a form part has no name")
        if name != FILE_FIELD:
            self._field = name
            return
        if self.file is not None:
            raise FormRejected("the form has more than one `tarball` file")
        self._fields_before_file = dict(self.fields)
        self.file = self.open_file()
        self._in_file = True

    def _part_data(self, data, start, end):
        if self._in_file:
            self._batch += memoryview(data)[start:end]
            return
        self._value += data[start:end]
        limit = FIELD_LIMITS.get(self._field, MAX_FIELD_BYTES)
        if len(self._value) > limit:
            raise FormRejected(f"form field `{self._field}` is longer than {limit} bytes")

    def _part_end(self):
        self._in_file = False
        if self._field is not None:
            self.fields[self._field] = self._value.decode("utf-8", "replace")

    def _end(self):
        self._complete = True
