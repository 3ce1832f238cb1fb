"""A small HTTP model server speaking TorchServe's inference API for one handler.

    python -m dynalab.runtime.server SPEC [--host 127.0.0.1] [--port 8080] [--port-file PATH]
    python -m dynalab.runtime.server SPEC --unix-socket PATH

It listens at once, so ``GET /ping`` can answer "Starting" while the model
loads; then, like one TorchServe worker, it imports the handler, calls
``handle(None, context)`` and serves ``POST /predictions/<model_name>`` one
request at a time. All handler code runs in the main thread (as in a
TorchServe worker); the HTTP threads only queue requests for it.

- ``GET /ping``: 200 {"status": "Healthy"} once loaded; 503 {"status": "Starting"}
  while loading; 500 {"status": "Unhealthy", "error", "traceback", "stage"[, "hint"]}
  if importing the handler or loading the model failed.
- ``POST /predictions/<model_name>``: the body is parsed as JSON when the
  Content-Type is application/json, decoded for text/*, else passed as bytes;
  the handler gets ``[{"body": parsed}]``. A dict response is sent as JSON, a
  str as text. A handler exception is a 500 {"code", "type", "message", "traceback"}.
- ``GET /models``: the one model served.

``--port 0`` picks a free port; the port is printed (``listening on HOST:PORT``)
and written to ``--port-file``. ``--unix-socket PATH`` listens on a Unix
socket instead (created at PATH, removed on exit): the host reaches a server
in a sandbox without network through a folder bound into it. A line
``READY`` is printed once loaded.
SIGTERM or SIGINT stops the server cleanly.
"""

import argparse
import json
import os
import queue
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from dynalab.files import atomic_write_text
from dynalab.runtime import hints, loader
from dynalab.runtime.context import context_from_spec
from dynalab.runtime.protocol import Health, SpecError, Stage, load_spec


def log(message):
    # One write per line: print() writes the newline apart, and request threads would interleave them.
    sys.stderr.write(f"[dynalab-server] {message}\n")
    sys.stderr.flush()


class _Shutdown(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT; a BaseException so handler code does not swallow it."""


class Job:
    """One prediction request, handed from an HTTP thread to the main thread."""

    def __init__(self, data, headers):
        self.data = data
        self.headers = headers
        self.done = threading.Event()
        self.result = None  # (status, content type, body bytes, extra headers)

    def finish(self, status, content_type, body, headers=None):
        self.result = (status, content_type, body, headers or {})
        self.done.set()


class ModelServer:
    """The model's state and the queue between the HTTP threads and the handler."""

    def __init__(self, spec):
        self.spec = spec
        self.model_name = spec["model_name"]
        self.health = Health.STARTING
        self.failure = {}
        self.jobs = queue.Queue()
        self.handle = None
        self.context = None

    def load(self):
        """Import the handler and call handle(None, context); sets the health either way."""
        started = time.monotonic()
        stage = Stage.IMPORT
        try:
            self.handle = loader.import_handler(self.spec)
            self.context = context_from_spec(self.spec)
            stage = Stage.LOAD
            self.handle(None, self.context)
        except (Exception, SystemExit) as exc:
            self.failure = {"error": _error_text(exc), "traceback": traceback.format_exc(), "stage": stage.value}
            hint = hints.failure_hint(exc, stage.value, self.spec)
            if hint:
                self.failure["hint"] = hint
            self.health = Health.FAILED
            log(f"loading the model failed: {self.failure['error']}\n{self.failure['traceback']}")
            return
        self.health = Health.READY
        log(f"model {self.model_name} loaded in {time.monotonic() - started:.2f}s")
        print("READY", file=sys.stderr, flush=True)

    def serve_jobs(self):
        """Answer queued requests forever, one at a time (returns only through _Shutdown)."""
        while True:
            self.run(self.jobs.get())

    def run(self, job):
        """Call the handler for one request and finish the job with its HTTP response."""
        processor = self.context.start_request(headers=job.headers)
        try:
            result = self.handle(job.data, self.context)
        except (Exception, SystemExit) as exc:
            trace = traceback.format_exc()
            log(f"the handler failed on a request: {_error_text(exc)}\n{trace}")
            return job.finish(*_internal_error(_error_text(exc), trace))
        try:
            content_type, body = _encode_result(result)
        except ValueError as error:
            log(f"bad handler result: {error}")
            return job.finish(*_internal_error(str(error), ""))
        headers = dict(processor.get_response_headers())
        content_type = headers.pop("content-type", None) or headers.pop("Content-Type", None) or content_type
        job.finish(processor.get_response_status_code(), content_type, body, headers)


def _error_text(exc):
    if isinstance(exc, SystemExit):
        return f"the handler called sys.exit({exc.code!r}); a handler must never exit the process"
    return f"{type(exc).__name__}: {exc}"


def _internal_error(message, trace):
    body = {"code": 500, "type": "InternalServerException", "message": message, "traceback": trace}
    return 500, "application/json", json.dumps(body).encode("utf-8")


def _encode_result(result):
    """(content type, body) for what ``handle`` returned; ValueError if it is not one response."""
    if not isinstance(result, list) or len(result) != 1:
        shown = f"a list of {len(result)}" if isinstance(result, list) else type(result).__name__
        raise ValueError(f"handle returned {shown}; it must return a list with exactly one response per request")
    item = result[0]
    if isinstance(item, str):
        return "text/plain; charset=utf-8", item.encode("utf-8")
    if isinstance(item, (bytes, bytearray)):
        return "application/octet-stream", bytes(item)
    try:
        return "application/json", json.dumps(item).encode("utf-8")
    except (TypeError, ValueError) as error:
        raise ValueError(f"the response cannot be sent as JSON ({error}); convert tensors and numpy values to Python types") from None


def parse_body(raw, content_type):
    """The request body as TorchServe hands it to handlers: JSON, text, or bytes by Content-Type."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "application/json":
        return json.loads(raw.decode("utf-8"))
    if media_type.startswith("text/"):
        return raw.decode("utf-8")
    return raw


class RequestHandler(BaseHTTPRequestHandler):
    """The HTTP endpoints; ``self.server.model`` is the ModelServer."""

    protocol_version = "HTTP/1.1"  # keep-alive: the probe sends many small requests

    def do_GET(self):
        model = self.server.model
        path = self.path.split("?")[0].rstrip("/")
        if path == "/ping":
            health = model.health
            extra = model.failure if health is Health.FAILED else {}
            return self._send_json(health.http_status, health.body(**extra))
        if path == "/models":
            return self._send_json(200, {"models": [{"modelName": model.model_name, "modelUrl": model.spec["handler"]}]})
        self._error(404, "ResourceNotFoundException", f"Requested resource is not found: {self.path}")

    def do_POST(self):
        model = self.server.model
        # Read the body first, whatever the answer: on a kept-alive connection
        # an unread body would be taken for the next request.
        raw = self._read_body()
        if raw is None:
            return
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) not in (2, 3) or parts[0] != "predictions":
            return self._error(404, "ResourceNotFoundException", f"Requested resource is not found: {self.path}")
        if parts[1] != model.model_name:
            return self._error(404, "ModelNotFoundException", f"Model not found: {parts[1]} (this server serves {model.model_name})")
        if model.health is not Health.READY:
            return self._error(503, "ServiceUnavailableException", f"Model {model.model_name} is not ready ({model.health.status})")
        try:
            body = parse_body(raw, self.headers.get("Content-Type"))
        except ValueError as error:
            return self._error(400, "BadRequestException", f"the body is not valid JSON: {error}")
        headers = {name.lower(): value for name, value in self.headers.items()}
        job = Job([{"body": body}], headers)
        model.jobs.put(job)
        job.done.wait()
        status, content_type, payload, extra = job.result
        self._send(status, content_type, payload, extra)

    def _read_body(self):
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            self._error(411, "BadRequestException", "a Content-Length header is required")
            return None
        return self.rfile.read(int(length))

    def _error(self, status, kind, message):
        self._send_json(status, {"code": status, "type": kind, "message": message})

    def _send_json(self, status, body):
        self._send(status, "application/json", json.dumps(body).encode("utf-8"))

    def _send(self, status, content_type, payload, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(payload)

    def address_string(self):
        # A Unix socket's peer has no address: BaseHTTPRequestHandler would index an empty string.
        return self.client_address[0] if isinstance(self.client_address, tuple) else "unix-socket"

    def log_message(self, format, *args):
        if not self.path.startswith("/ping"):  # the probe polls /ping many times while waiting
            log(f"{self.address_string()} {format % args}")


class UnixHTTPServer(ThreadingHTTPServer):
    """The same server on a Unix socket (``HTTPServer.server_bind`` assumes a host and a port)."""

    address_family = socket.AF_UNIX
    # A client's connect() to a Unix socket whose backlog is full fails at once (no retry as with TCP):
    # room for every request an evaluation sends at once (up to a task's batch_size).
    request_queue_size = 1024

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "localhost", 0


def _listen(args):
    """(the HTTP server, where it listens as text)."""
    if args.unix_socket:
        if os.path.exists(args.unix_socket):
            os.unlink(args.unix_socket)  # a socket left by an earlier server: bind would fail
        httpd = UnixHTTPServer(args.unix_socket, RequestHandler)
        return httpd, f"unix:{args.unix_socket}"
    httpd = ThreadingHTTPServer((args.host, args.port), RequestHandler)
    host, port = httpd.server_address[:2]
    return httpd, f"{host}:{port}"


def _raise_shutdown(signum, frame):
    raise _Shutdown()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dynalab.runtime.server", description=__doc__.split("\n")[0])
    parser.add_argument("spec", help="run spec JSON file")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--port-file", help="write the port to this file once listening")
    parser.add_argument("--unix-socket", metavar="PATH", help="listen on a Unix socket at PATH instead of a TCP port")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.spec)
    except SpecError as error:
        log(str(error))
        return 2
    try:
        loader.enter_model_dir(spec, args.spec)
    except OSError as error:
        log(f"cannot use the model dir {spec['model_dir']}: {error}")
        return 2

    model = ModelServer(spec)
    httpd, where = _listen(args)
    httpd.model = model
    signal.signal(signal.SIGTERM, _raise_shutdown)
    signal.signal(signal.SIGINT, _raise_shutdown)
    try:
        threading.Thread(target=httpd.serve_forever, name="http", daemon=True).start()
        if args.port_file and not args.unix_socket:
            atomic_write_text(args.port_file, f"{httpd.server_address[1]}\n")  # a reader never sees half a port
        log(f"listening on {where}")
        model.load()
        model.serve_jobs()
    except _Shutdown:
        log("shutting down")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        httpd.shutdown()
        httpd.server_close()
        if args.unix_socket and os.path.exists(args.unix_socket):
            os.unlink(args.unix_socket)
    return 0


if __name__ == "__main__":
    sys.exit(main())
