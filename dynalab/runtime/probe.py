"""Test a running model server over HTTP with the task's mock datapoints.

    python -m dynalab.runtime.probe SPEC (--url URL | --port-file PATH)
        [--startup-timeout S] [--request-timeout S]

Waits until ``GET /ping`` says Healthy, then sends every mock datapoint (or
each example the spec names) to
``POST /predictions/<model_name>`` (batched mode: one request whose body holds
one JSON line per datapoint) and judges each response with the same checks as
the local runner. Events (see ``dynalab.runtime.protocol``) go to stdout.
Exit status: 0 if every datapoint passed, 1 otherwise, 2 if the spec is unusable.
"""

import argparse
import http.client
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from dynalab.runtime import checks
from dynalab.runtime.protocol import TIMEOUT_HINTS, Event, Health, Reason, SpecError, Stage, emit, examples_of, load_spec
from dynalab.tasks.task_io import TaskIO

POLL_SECONDS = 0.25


class Unreachable(Exception):
    """The request got no HTTP answer: ``reason`` is a protocol Reason."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


class Client:
    """Plain HTTP to one server, never through a proxy (the server is on loopback)."""

    def __init__(self, base_url):
        self.base_url = base_url.rstrip("/")
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def request(self, path, body=None, content_type=None, timeout=60):
        """(status, body bytes) of ``path``; raises Unreachable when there is no answer."""
        headers = {"Content-Type": content_type} if content_type else {}
        request = urllib.request.Request(self.base_url + path, data=body, headers=headers)
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, error.read()
        except urllib.error.URLError as error:
            raise _unreachable(error.reason, self.base_url, timeout) from None
        except (OSError, http.client.HTTPException) as error:
            raise _unreachable(error, self.base_url, timeout) from None


def _unreachable(cause, url, timeout):
    if isinstance(cause, (socket.timeout, TimeoutError)):
        return Unreachable(Reason.REQUEST_TIMEOUT, f"no answer from {url} within {timeout:g}s")
    if isinstance(cause, (ConnectionError, http.client.RemoteDisconnected)):
        return Unreachable(Reason.CONNECTION_REFUSED, f"connection to {url} refused or dropped ({cause}): the server is not running")
    return Unreachable(Reason.CONNECTION_REFUSED, f"cannot reach {url}: {cause}")


def json_object(payload):
    """The JSON object in ``payload`` (bytes), or {} when it holds none."""
    try:
        value = json.loads(payload.decode("utf-8"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@dataclass
class Probe:
    """One probe run: events out (to the ``events`` stream), tally kept."""

    spec: dict
    events: object
    startup_timeout: float
    request_timeout: float

    def __post_init__(self):
        self.tally = checks.Tally(self.emit)

    def emit(self, kind, **fields):
        emit(self.events, kind, **fields)

    def run(self, url=None, port_file=None):
        """Wait for health, send the datapoints; returns the exit status."""
        try:
            self.taskio = TaskIO.from_definition(self.spec["task"], source="task of the run spec")
        except (ValueError, LookupError) as error:
            self.emit(Event.ERROR, stage=Stage.SPEC, reason=Reason.BAD_SPEC, message=str(error), traceback="")
            return 2
        examples = examples_of(self.spec, self.taskio)
        total = len(examples)
        self.emit(Event.START, model_name=self.spec["model_name"], total=total, batched=self.spec["batched"], url=url)
        client = self._wait_until_healthy(url, port_file)
        if client is not None:
            path = f"/predictions/{self.spec['model_name']}"
            try:
                if self.spec["batched"]:
                    self._send_batch(client, path, examples)
                else:
                    for index, example in enumerate(examples):
                        self._send_one(client, path, index, example, total)
            except Unreachable:
                pass  # reported; the server is gone or stuck, so the rest cannot pass
        self.tally.failed = total - self.tally.passed
        return self.tally.done(total)

    def _wait_until_healthy(self, url, port_file):
        """A Client once /ping says Healthy; None (after an error event) if it never does."""
        started = time.monotonic()
        deadline = started + self.startup_timeout
        last = "no answer yet"
        client = Client(url) if url else None
        while time.monotonic() < deadline:
            if client is None:
                client = _client_from_port_file(port_file)
                if client is None:
                    last = f"the server has not written its port to {port_file} yet"
                    time.sleep(POLL_SECONDS)
                    continue
            try:
                status, payload = client.request("/ping", timeout=max(0.1, min(5.0, deadline - time.monotonic())))
            except Unreachable as error:
                last = str(error)
                time.sleep(POLL_SECONDS)
                continue
            body = json_object(payload)
            health = Health.from_ping(body)
            if health is Health.READY and status == 200:
                self.emit(Event.LOADED, seconds=round(time.monotonic() - started, 3), url=client.base_url)
                return client
            if health is Health.FAILED:
                stage = Stage.IMPORT if body.get("stage") == Stage.IMPORT.value else Stage.LOAD
                self.emit(
                    Event.ERROR, stage=stage, reason=Reason.INIT_FAILED,
                    message=f"the handler failed to load: {body.get('error', 'no details given')}",
                    traceback=body.get("traceback", ""), **({"hint": body["hint"]} if body.get("hint") else {}),
                )
                return None
            last = f"/ping answered {status} {body or payload[:200]!r}"
            time.sleep(POLL_SECONDS)
        self.emit(
            Event.ERROR, stage=Stage.STARTUP, reason=Reason.STARTUP_TIMEOUT, traceback="",
            message=f"the model server was not healthy within the task's load_timeout of {self.startup_timeout:g}s "
            f"(last: {last})",
            hint=TIMEOUT_HINTS[Reason.STARTUP_TIMEOUT],
        )
        return None

    def _post(self, client, path, body, content_type, stage, index=None):
        """The body of a 200 answer; None after an error event for any other answer."""
        where = {"index": index} if index is not None else {}
        try:
            status, payload = client.request(path, body, content_type, timeout=self.request_timeout)
        except Unreachable as error:
            fields = {}
            if error.reason is Reason.REQUEST_TIMEOUT:
                fields["hint"] = TIMEOUT_HINTS[Reason.REQUEST_TIMEOUT]
            self.emit(Event.ERROR, stage=stage, reason=error.reason, message=str(error), traceback="", **where, **fields)
            raise
        if status == 200:
            return payload
        answer = json_object(payload)
        message = answer.get("message") or payload.decode("utf-8", errors="replace")[:500]
        self.emit(
            Event.ERROR, stage=stage, reason=Reason.HTTP_ERROR, status=status, **where,
            message=f"the server answered {status}: {message}", traceback=answer.get("traceback", ""),
        )
        return None

    def _send_one(self, client, path, index, example, total):
        started = time.monotonic()
        body = json.dumps(example, ensure_ascii=False).encode("utf-8")
        payload = self._post(client, path, body, "application/json", Stage.DATAPOINT, index)
        if payload is None:
            return
        response, problems = checks.judge(payload, example, self.taskio)
        self.tally.datapoint(index, total, example, response, problems, time.monotonic() - started)

    def _send_batch(self, client, path, examples):
        started = time.monotonic()
        body = checks.batch_body(examples).encode("utf-8")
        payload = self._post(client, path, body, "text/plain; charset=utf-8", Stage.BATCH)
        if payload is None:
            return
        seconds = time.monotonic() - started
        self.tally.batch(examples, checks.judge_batch(payload, examples, self.taskio), seconds)


def _client_from_port_file(path):
    try:
        with open(path, encoding="utf-8") as file:
            port = int(file.read().strip())
    except (OSError, ValueError):
        return None
    return Client(f"http://127.0.0.1:{port}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dynalab.runtime.probe", description=__doc__.split("\n")[0])
    parser.add_argument("spec", help="run spec JSON file")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="base URL of the server, e.g. http://127.0.0.1:8080")
    where.add_argument("--port-file", help="file the server writes its port to (server on 127.0.0.1)")
    parser.add_argument("--startup-timeout", type=float, default=300.0, help="seconds to wait for /ping to say Healthy")
    parser.add_argument("--request-timeout", type=float, default=60.0, help="seconds to wait for each prediction")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.spec)
    except SpecError as error:
        emit(sys.stdout, Event.ERROR, stage=Stage.SPEC, reason=Reason.BAD_SPEC, message=str(error), traceback="")
        return 2
    probe = Probe(spec, sys.stdout, args.startup_timeout, args.request_timeout)
    return probe.run(url=args.url, port_file=args.port_file and os.path.abspath(args.port_file))


if __name__ == "__main__":
    sys.exit(main())
