"""Redis and ``dynalab-server worker`` processes on 127.0.0.1, as context managers: for tests and benchmarks.

    with RedisProcess(folder) as redis, WorkerProcess(folder, redis.url, server.url, token):
        ...

``RedisProcess`` is a ``redis-server`` of its own on a free port, keeping
nothing on disk, that can be stopped and started again on the same port (a
broker going down and coming back). ``WorkerProcess`` is a ``dynalab-server
worker`` in a folder of its own, knowing nothing of the server but the
broker URL, the API URL and its token (given in its environment); its
output goes to ``folder/worker.log``, and ``start`` waits for its ready
line. Standard library only, like ``server_process``.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

READY_LINE = "Dynalab worker ready"  # as dynalab.server.jobs.celery_executor prints it


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisProcess:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process = None

    @staticmethod
    def available():
        return shutil.which("redis-server") is not None

    def start(self):
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.folder)],
            stdout=open(self.folder / "redis.log", "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}: {(self.folder / 'redis.log').read_text()}")

    def flush(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            assert sock.recv(16).startswith(b"+OK")

    def stop(self):
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class WorkerProcess:
    """``dynalab-server worker`` in ``folder``, started in a session of its own (so that ``stop``
    ends all its processes, whatever happened to its main one)."""

    def __init__(self, folder, broker, api_url, token, extra_args=(), env=None, command=None):
        """``command``: what runs ``dynalab-server worker`` (by default the real one: python -m dynalab.server.cli)."""
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log_path = self.folder / "worker.log"
        options = ["--broker", broker, "--api-url", api_url, *[str(arg) for arg in extra_args]]
        self.command = [*(command or [sys.executable, "-m", "dynalab.server.cli"]), "worker", *options]
        # The token in the environment, as the README advises: not on a command line others can read.
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("DYNALAB_SERVER_")},
                    "DYNALAB_WORKER_TOKEN": token, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process = None

    def start(self, timeout=60):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command, cwd=self.folder, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while READY_LINE not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the worker did not start:\n{self.log()}")
            time.sleep(0.1)
        return self

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    @property
    def pid(self):
        return self.process.pid

    def kill_9(self):
        """``kill -9`` of the worker's main process alone (its job's process must die with it)."""
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()  # Celery's warm shutdown
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # whatever is left of its session
        except ProcessLookupError:
            pass
        self.process.wait()
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
