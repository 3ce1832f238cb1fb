"""A server in a child process, as a context manager: for tests and the one-command demo.

    with ServerProcess(data_dir) as server:
        token = server.add_user("me@example.org")
        requests.get(server.url + "/health")

The server's output goes to ``DIR/server.log``; ``start`` waits for its ready
line (which names the port, so ``port=None`` lets the system pick a free one)
and for ``/health``. A restart keeps the port, so clients keep their URL.
The server is configured by its arguments and ``env`` alone: the caller's
``DYNALAB_SERVER_*`` variables are not passed on. Uses only the standard
library, so a client can import it without the extra.
"""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

READY_LINE = re.compile(r"Dynalab server ready at (http://\S+)")
SETTINGS_PREFIX = "DYNALAB_SERVER_"


class ServerStartError(RuntimeError):
    """Raised when the server process exits or stays silent instead of serving."""


class ServerProcess:
    def __init__(self, data_dir, port=None, host="127.0.0.1", extra_args=(), env=None, startup_timeout=30.0):
        self.data_dir = Path(data_dir).resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or 0
        self.extra_args = [str(arg) for arg in extra_args]
        self.env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.log_path = self.data_dir / "server.log"
        self.url = None
        self._process = None

    def command(self, *args):
        return [sys.executable, "-m", "dynalab.server.cli", *args]

    def environment(self):
        """The server's environment: this process's, without its server settings, plus ``env``."""
        inherited = {name: value for name, value in os.environ.items() if not name.startswith(SETTINGS_PREFIX)}
        return {**inherited, **self.env}

    def start(self):
        """Start the server and wait until it answers ``/health``; returns its URL."""
        if self.running:
            return self.url
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                self.command("run", "--data-dir", str(self.data_dir), "--host", self.host,
                             "--port", str(self.port), *self.extra_args),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env={**self.environment(), "PYTHONUNBUFFERED": "1"},
            )
        try:
            self.url = self._wait_ready(offset)
        except BaseException:
            self.stop()
            raise
        self.port = int(self.url.rsplit(":", 1)[1])
        return self.url

    def _wait_ready(self, offset):
        deadline = time.monotonic() + self.startup_timeout
        url = None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServerStartError(f"the server exited with code {self._process.returncode}:\n"
                                       f"{self.log(offset)}")
            if url is None:
                match = READY_LINE.search(self.log(offset))
                url = match.group(1) if match else None
            if url is not None and _healthy(url):
                return url
            time.sleep(0.05)
        raise ServerStartError(f"the server did not become ready within {self.startup_timeout} s:\n"
                               f"{self.log(offset)}")

    def log(self, offset=0):
        """The server's output since ``offset`` bytes into its log file."""
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    @property
    def pid(self):
        """The server process's id, or None when it is not running."""
        return self._process.pid if self.running else None

    @property
    def running(self):
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout=10.0):
        """Stop the server (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def restart(self):
        self.stop()
        return self.start()

    def cli(self, *args, input=None):
        """Run ``dynalab-server ARGS --data-dir DIR``; returns the CompletedProcess."""
        return subprocess.run(self.command(*args, "--data-dir", str(self.data_dir)),
                              input=input, capture_output=True, text=True, env=self.environment())

    def add_user(self, email, password=None):
        """Create a user; returns their API token (the command's last output line)."""
        args = ["add-user", email] + (["--password-stdin"] if password else [])
        result = self.cli(*args, input=f"{password}\n" if password else None)
        if result.returncode != 0:
            raise RuntimeError(f"add-user {email} failed: {result.stderr.strip()}")
        return result.stdout.strip().splitlines()[-1]

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


# Loopback traffic must not go through an HTTP proxy named in the environment.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _healthy(url):
    try:
        with _DIRECT.open(url + "/health", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
