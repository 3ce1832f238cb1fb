"""Serve a packaged model, confined, for an evaluation: the host sends requests, the model answers.

    with serve(backend, package_root, config, definition, limits, log) as model:
        model.wait_ready()                       # within limits["load_timeout"]
        response = model.predict(example)        # or model.predict_batch(examples)
        peak = model.peak_memory_mb()

The environment is built exactly as for the integrated test (same code, same
cache: the sandbox's layers, the Docker image's layers) and the model is
confined the same way (``sandbox.confinement`` and ``sandbox.cgroups``, or the
confined ``docker.backend.container``). Instead of the launcher and its probe,
the model server (``dynalab.runtime.server --unix-socket``) listens on a
Unix socket in a folder bound into the sandbox or container, and the host
talks HTTP over it: there is no network inside.

Every failure is a ``Failure(failure_class, reason, hint)`` — the class one of
``FAILURE_CLASSES``, the reason and hint the integrated test's diagnosis —
raised as ``ModelFailed`` (by entering ``serve``: ``build`` or
``infrastructure``; by ``wait_ready``, ``predict`` and ``predict_batch``:
the others) and kept as ``model.failure()``. On the way out, whatever
happened, every process is killed, the container removed and the scratch
folder deleted.
"""

import http.client
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from dynalab.errors import IntegratedTestFailed
from dynalab.isolation import workspace
from dynalab.isolation.launcher import SERVER
from dynalab.isolation.outcome import RunOutcome
from dynalab.runtime.probe import json_object
from dynalab.runtime.protocol import Event, Health, Reason, Stage

FAILURE_CLASSES = ("build", "load", "crash", "timeout", "memory", "bad_response", "infrastructure")
SOCKET_NAME = "model.sock"
SOCKET_FOLDER = "/run/dynalab"  # where the model sees the socket's folder: a Unix socket's path has ~100 bytes at most
ACCESS_OK = re.compile(r'"POST /predictions/[^"]*" 200 ')
POLL_SECONDS = 0.1
EXIT_GRACE = 5.0  # seconds a dropped connection waits for the process's end, to tell why it dropped


@dataclass(frozen=True)
class Failure:
    """Why a served model failed: one of FAILURE_CLASSES, a one-line reason, and what to do."""

    failure_class: str
    reason: str
    hint: str


class ModelFailed(Exception):
    """The served model failed (it crashed, timed out, ran out of memory, answered badly...): ``failure`` says how."""

    def __init__(self, failure):
        super().__init__(f"{failure.failure_class}: {failure.reason}")
        self.failure = failure


class _LineLog:
    """A file-like view of the ``log`` callable (the builders write to files), one line per call."""

    name = "the job's log"

    def __init__(self, log):
        self.log, self.pending = log, ""

    def write(self, text):
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.log(line)

    def flush(self):
        pass


@contextmanager
def serve(backend, package_root, config, definition, limits, log, name="model", scratch_dir=None,
          allow_unconfined=False, labels=None):
    """The model of the unpacked package at ``package_root``, served on ``backend`` ("sandbox" or "docker").

    ``config`` is the model's config, ``definition`` the task definition,
    ``limits`` ``dynalab.tasks.limits.limits_of(definition)``, ``log`` a
    callable taking one line of text. ``scratch_dir`` is where the run's
    scratch folder is made (default: the system's temporary folder).
    ``labels`` go on the container (docker), so that a server can find and
    remove those left by a run it did not finish. The sandbox refuses to run
    without bubblewrap unless ``allow_unconfined``.
    Raises ModelFailed (``build`` or ``infrastructure``) when it cannot start.
    """
    lines = _LineLog(log)
    with ExitStack() as stack:
        scratch = Path(tempfile.mkdtemp(prefix=f"dynalab-serve-{name}-", dir=scratch_dir))
        stack.callback(shutil.rmtree, scratch, ignore_errors=True)
        socket_dir = scratch / "socket"
        socket_dir.mkdir()
        os.chmod(socket_dir, 0o777)  # the container's user (nobody) makes the socket here
        model = ServedModel(backend, Path(package_root), config, definition, limits, log, socket_dir / SOCKET_NAME)
        stack.callback(model._close)
        try:
            if backend == "sandbox":
                runner = stack.enter_context(_sandbox(model, scratch, name, lines, allow_unconfined))
            elif backend == "docker":
                runner = stack.enter_context(_docker(model, scratch, name, lines, labels))
            else:
                raise ValueError(f"unknown backend {backend!r} (known: sandbox, docker)")
        except IntegratedTestFailed as error:
            failure_class = "infrastructure" if getattr(error, "infrastructure", False) else "build"
            raise ModelFailed(model._fail(failure_class, str(error), error.hint or "the log shows what failed")) from None
        model.runner = runner
        yield model


class ServedModel:
    """A model being served: ask it for predictions; see ``serve``."""

    def __init__(self, backend, package_root, config, definition, limits, log, socket_path):
        self.backend = backend
        self.package_root = package_root
        self.config = config
        self.definition = definition
        self.limits = limits
        self.log = log
        self.socket_path = str(socket_path)
        self.runner = None
        self.outcome = RunOutcome(backend, memory_limit=limits["memory"])
        self._failure = None
        self._in_flight = 0
        self._lock = threading.Lock()
        self._path = None
        self._folder_fd = None

    # -- what the job uses

    def wait_ready(self):
        """Return once the model is loaded; raise ModelFailed if it fails or takes over ``load_timeout``."""
        started = time.monotonic()
        deadline = started + self.limits["load_timeout"]
        while time.monotonic() < deadline:
            self._raise_if_failed()
            if not self.runner.alive():
                self._ended(Stage.LOAD)
            try:
                status, payload = self._request("GET", "/ping", timeout=max(0.1, min(5.0, deadline - time.monotonic())))
            except (OSError, http.client.HTTPException):
                time.sleep(POLL_SECONDS)
                continue
            body = json_object(payload)
            health = Health.from_ping(body)
            if health is Health.READY and status == 200:
                self.log(f"the model is ready ({time.monotonic() - started:.1f}s)")
                self._path = f"/predictions/{self.runner.model_name}"
                return None
            if health is Health.FAILED:
                stage = Stage.IMPORT if body.get("stage") == Stage.IMPORT.value else Stage.LOAD
                self._event(Event.ERROR, stage=stage, reason=Reason.INIT_FAILED,
                            message=f"the handler failed to load: {body.get('error', 'no details given')}",
                            traceback=body.get("traceback", ""), **({"hint": body["hint"]} if body.get("hint") else {}))
                self._diagnosed("load")
            time.sleep(POLL_SECONDS)
        seconds = self.limits["load_timeout"]
        self._event(Event.ERROR, stage=Stage.STARTUP, reason=Reason.STARTUP_TIMEOUT, traceback="",
                    message=f"the model did not load within the task's load_timeout of {seconds:g}s")
        self._diagnosed("timeout")

    def predict(self, example):
        """The model's response (a dict) to one example (a dict of the task's inputs)."""
        body = json.dumps(example, ensure_ascii=False).encode("utf-8")
        payload = self._predict(body, "application/json", Stage.DATAPOINT)
        from dynalab.tasks.task_io import parse_response

        response, problem = parse_response(payload)
        if problem is not None:
            self._bad_response(f"the response to example {example.get('uid', '?')!r} is not {problem.expected}: "
                               f"got {problem.got}", problem.hint)
        return response

    def predict_batch(self, examples):
        """The model's responses (dicts, in order) to ``examples``, sent as one batch of JSON lines."""
        from dynalab.runtime.checks import batch_body
        from dynalab.tasks.task_io import parse_response

        payload = self._predict(batch_body(examples).encode("utf-8"), "text/plain; charset=utf-8", Stage.BATCH)
        text = payload.decode("utf-8", errors="replace")
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) != len(examples):
            self._bad_response(f"a batch of {len(examples)} examples got {len(lines)} response lines",
                               "in batched mode return one JSON line per example, in order")
        responses = []
        for index, line in enumerate(lines):
            response, problem = parse_response(line)
            if problem is not None:
                self._bad_response(f"response line {index + 1} of a batch is not {problem.expected}: got {problem.got}",
                                   problem.hint)
            responses.append(response)
        return responses

    def peak_memory_mb(self):
        """The most memory the model's processes used together so far, in MB (MiB), or None when unknown."""
        peak = self.runner.peak_memory_bytes() if self.runner else None
        return round(peak / 1024**2, 1) if peak else None

    def failure(self):
        """The Failure, once the model failed; else None."""
        return self._failure

    # -- inside

    def _predict(self, body, content_type, stage):
        self._raise_if_failed()
        if self._path is None:
            raise RuntimeError("wait_ready() first: the model is not known to be loaded")
        with self._lock:
            self._in_flight += 1
            ahead = self._in_flight
        # The server answers one request at a time: a request waits behind those sent before it.
        timeout = self.limits["request_timeout"] * ahead
        try:
            status, payload = self._request("POST", self._path, body, content_type, timeout)
        except (socket.timeout, TimeoutError):
            self._event(Event.ERROR, stage=stage, reason=Reason.REQUEST_TIMEOUT, traceback="",
                        message=f"no answer within the task's request_timeout of {self.limits['request_timeout']:g}s")
            self._diagnosed("timeout")
        except (OSError, http.client.HTTPException):
            self._raise_if_failed()
            self._ended(stage)
        finally:
            with self._lock:
                self._in_flight -= 1
        if status == 200:
            return payload
        answer = json_object(payload)
        message = answer.get("message") or payload.decode("utf-8", errors="replace")[:500]
        self._event(Event.ERROR, stage=stage, reason=Reason.HTTP_ERROR, status=status,
                    message=f"the server answered {status}: {message}", traceback=answer.get("traceback", ""))
        self._diagnosed("crash")

    def _request(self, method, path, body=None, content_type=None, timeout=60):
        connection = UnixHTTPConnection(self._socket_address(), timeout)
        try:
            connection.request(method, path, body=body, headers={"Content-Type": content_type} if content_type else {})
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def _socket_address(self):
        """The socket's path, or one short enough for AF_UNIX through the folder's descriptor (Linux)."""
        if len(os.fsencode(self.socket_path)) < 100:
            return self.socket_path
        if self._folder_fd is None:
            self._folder_fd = os.open(os.path.dirname(self.socket_path), os.O_PATH)
        return f"/proc/self/fd/{self._folder_fd}/{SOCKET_NAME}"

    def _close(self):
        if self._folder_fd is not None:
            os.close(self._folder_fd)
            self._folder_fd = None

    def _ended(self, stage):
        """The connection dropped or the process is gone: wait for its end, then say why it ended."""
        deadline = time.monotonic() + EXIT_GRACE
        while self.runner.alive() and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        self.outcome.exit_code = self.runner.exit_code()
        self.outcome.oom_killed = self.runner.oom_killed()
        if self.outcome.exit_code is not None and self.outcome.exit_code != 0:
            self.outcome.add_line(f"launcher| the model server exited with status {self.outcome.exit_code}")
        self._diagnosed("load" if stage in (Stage.LOAD, Stage.IMPORT, Stage.STARTUP) else "crash")

    def _event(self, kind, **fields):
        from dynalab.runtime.protocol import emit

        class _Lines:
            def __init__(self, outcome):
                self.outcome = outcome

            def write(self, text):
                for line in text.splitlines():
                    self.outcome.probe_lines.append(line)

            def flush(self):
                pass

        emit(_Lines(self.outcome), kind, **fields)

    def _diagnosed(self, failure_class):
        """Raise ModelFailed with the integrated test's diagnosis of what happened."""
        from dynalab.isolation.diagnosis import diagnose, is_memory

        if is_memory(self.outcome):
            failure_class = "memory"
        diagnosis = diagnose(self.outcome, self.package_root, self.config)
        raise ModelFailed(self._fail(failure_class, diagnosis.cause, diagnosis.hint, diagnosis.details))

    def _bad_response(self, reason, hint):
        raise ModelFailed(self._fail("bad_response", reason, hint or "make the handler's response match the task's output format"))

    def _fail(self, failure_class, reason, hint, details=()):
        with self._lock:
            if self._failure is None:
                self._failure = Failure(failure_class, reason, hint)
                self.log(f"FAILED ({failure_class}): {reason}")
                self.log(f"fix: {hint}")
                for line in details:
                    self.log(f"  | {line}")
            return self._failure

    def _raise_if_failed(self):
        if self._failure is not None:
            raise ModelFailed(self._failure)

    def _server_line(self, line):
        if not ACCESS_OK.search(line):  # one line per answered request would drown the log
            self.log(line)
        self.outcome.add_line(SERVER + line)


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket (the model server's ``--unix-socket``)."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _server_command(python, spec, socket_path):
    return [str(python), "-m", "dynalab.runtime.server", str(spec), "--unix-socket", str(socket_path)]


# ------------------------------------------------------------------ sandbox

class _SandboxRunner:
    def __init__(self, process, cap, model_name):
        self.process, self.cap, self.model_name = process, cap, model_name

    def alive(self):
        return self.process.poll() is None

    def exit_code(self):
        return self.process.poll()

    def oom_killed(self):
        return self.cap.hit()

    def peak_memory_bytes(self):
        return self.cap.peak_bytes()


@contextmanager
def _sandbox(model, scratch, name, lines, allow_unconfined):
    from dynalab.isolation.sandbox.backend import child_process, confined, lay_out

    root, model_dir = model.package_root, scratch / "model"
    workspace.prepare_model(root, model_dir, model.config)
    layout = lay_out(scratch, root, model_dir, model.config, lines, out=model.log)
    spec = scratch / "spec.json"
    workspace.write_run_spec(spec, name, model.config, model.definition, root, model_dir)
    model.outcome.rootpath, model.outcome.model_dir = str(root), str(model_dir)
    inside = f"{SOCKET_FOLDER}/{SOCKET_NAME}"
    command = _server_command(layout.environment.python, spec, inside)
    socket_folder = Path(model.socket_path).parent
    with confined(layout, command, [spec], model.limits, model.outcome, out=model.log,
                  binds=[(socket_folder, SOCKET_FOLDER)]) as (command, cap):
        if not model.outcome.isolated:  # unconfined, the server sees this machine's folders as they are
            command = _server_command(layout.environment.python, spec, model.socket_path)
        if not model.outcome.isolated and not allow_unconfined:
            error = IntegratedTestFailed(
                "bubblewrap (`bwrap`) does not work on this machine, and an upload is never run unconfined",
                hint="install Debian's package bubblewrap (see .ci/setup), or use the docker backend")
            error.infrastructure = True
            raise error
        model.log("$ " + " ".join(command))
        with child_process(command, env=layout.variables(model.outcome.isolated), cwd=model_dir) as process:
            reader = threading.Thread(target=_copy, args=(process.stdout, model), daemon=True)
            reader.start()
            yield _SandboxRunner(process, cap, name)
        reader.join(5)


def _copy(stream, model):
    for raw in stream:
        model._server_line(raw.decode("utf-8", errors="replace").rstrip("\n"))


# ------------------------------------------------------------------ docker

class _DockerRunner:
    def __init__(self, container, model_name):
        self.container, self.model_name = container, model_name

    def _state(self):
        try:
            self.container.reload()
        except Exception:  # gone: removed by the engine
            return {}
        return self.container.attrs.get("State", {})

    def alive(self):
        return bool(self._state().get("Running"))

    def exit_code(self):
        state = self._state()
        return None if state.get("Running") else state.get("ExitCode")

    def oom_killed(self):
        return bool(self._state().get("OOMKilled"))

    def peak_memory_bytes(self):
        try:
            stats = self.container.stats(stream=False)
        except Exception:
            return None
        memory = stats.get("memory_stats") or {}
        return memory.get("max_usage") or _cgroup_v2_peak(self.container.id)


def _cgroup_v2_peak(container_id):
    """The container's peak memory from its cgroup (v2: the engine's stats have no max_usage)."""
    for folder in (f"system.slice/docker-{container_id}.scope", f"docker/{container_id}"):
        try:
            return int(Path("/sys/fs/cgroup", folder, "memory.peak").read_text())
        except (OSError, ValueError):
            continue
    return None


@contextmanager
def _docker(model, scratch, name, lines, labels):
    from dynalab.isolation.docker import image as docker_image
    from dynalab.isolation.docker.backend import clamped_limits, container, docker_client

    try:
        client = docker_client()
    except IntegratedTestFailed as error:
        error.infrastructure = True
        raise
    context = scratch / "context"
    docker_image.assemble_context(context, model.package_root, name, model.config, model.definition)
    # A tag of this run's own: another run of the same package (two datasets at once) may remove its
    # own tag at any time; an unchanged package builds from the cache alone.
    digest = docker_image.context_digest(context, docker_image.folder_digest(context / "code"))
    tag = f"{docker_image.SERVE_REPOSITORY}:{digest}-{uuid.uuid4().hex[:8]}"
    model.log(f"Building the Docker image {tag} from {docker_image.base_image(model.config)}...")
    docker_image.build(client, context, tag, name, lines, model.log, keep_environment=True)
    shutil.rmtree(context, ignore_errors=True)
    model.outcome.rootpath, model.outcome.model_dir = docker_image.ROOTPATH, docker_image.MODEL_DIR
    cpus, memory = clamped_limits(client, model.limits, model.outcome, model.log)
    model.outcome.memory_limit = memory
    command = _server_command("/opt/venv/bin/python", docker_image.SPEC, f"{SOCKET_FOLDER}/{SOCKET_NAME}")
    socket_dir = str(Path(model.socket_path).parent)
    try:
        with container(client, tag, name, cpus, memory, command=command, labels=labels,
                       volumes={socket_dir: {"bind": SOCKET_FOLDER, "mode": "rw"}},
                       gpu=bool(model.limits.get("gpu"))) as running:
            running.start()
            reader = threading.Thread(target=_copy_docker_logs, args=(running, model), daemon=True)
            reader.start()
            yield _DockerRunner(running, name)
    finally:
        try:
            client.images.remove(tag)  # the environment's layers stay, tagged by build(keep_environment=True)
        except Exception as error:  # the engine went away: nothing more to do here
            model.log(f"the image {tag} could not be removed ({error})")


def _copy_docker_logs(running, model):
    pending = b""
    try:
        for chunk in running.logs(stream=True, follow=True, stdout=True, stderr=True):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                model._server_line(line.decode("utf-8", errors="replace"))
    except Exception:  # the container was removed under the stream
        pass
    if pending:
        model._server_line(pending.decode("utf-8", errors="replace"))
