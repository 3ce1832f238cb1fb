"""Run the runtime modules as real processes, the way a host does, and read their events."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import namedtuple
from pathlib import Path

from dynalab.runtime.protocol import read_events

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PROJECTS = Path(__file__).resolve().parent.parent / "projects"


def fixture_dir(case):
    """A runtime fixture, or one of the fixture projects the other suites share."""
    return FIXTURES / case if (FIXTURES / case).is_dir() else PROJECTS / case

Result = namedtuple("Result", "returncode events stdout stderr")


def runtime_env(**extra):
    """The environment of a runtime process: Dynalab importable, nothing inherited that would steer it."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DYNALAB_") and key != "MY_SECRET"}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def run_local(spec_path, env=None, timeout=120, cwd=None):
    """Run the local runner as the host does: events on a pipe handed over with pass_fds."""
    read_fd, write_fd = os.pipe()
    lines = []
    with os.fdopen(read_fd, "rb") as reader:
        thread = threading.Thread(target=lambda: lines.extend(reader), daemon=True)
        thread.start()
        try:
            process = subprocess.run(
                [sys.executable, "-m", "dynalab.runtime.local_runner", str(spec_path), "--events-fd", str(write_fd)],
                pass_fds=(write_fd,), cwd=cwd or spec_path.parent, env=runtime_env(**(env or {})),
                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            )
        finally:
            os.close(write_fd)  # our copy; the pipe ends when the child's copy closes too
        thread.join(timeout=10)
    return Result(process.returncode, read_events(lines), process.stdout, process.stderr)


class Server:
    """A runtime server process on 127.0.0.1 with a free port."""

    def __init__(self, spec_path, env=None):
        self.port_file = spec_path.parent / "port"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dynalab.runtime.server", str(spec_path), "--port", "0",
             "--port-file", str(self.port_file)],
            cwd=spec_path.parent, env=runtime_env(**(env or {})), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.stderr_lines = []
        self._reader = threading.Thread(target=lambda: self.stderr_lines.extend(self.process.stderr), daemon=True)
        self._reader.start()

    @property
    def port(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.port_file.exists() and self.port_file.read_text().strip():
                return int(self.port_file.read_text())
            time.sleep(0.05)
        raise AssertionError("the server wrote no port file:\n" + "".join(self.stderr_lines))

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout=15):
        """SIGTERM, then the exit status (kills it if it does not stop)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        self._reader.join(timeout=5)
        return code

    @property
    def log(self):
        return "".join(self.stderr_lines)


def run_probe(spec_path, *args, env=None, timeout=120):
    """The probe as a process; its events come from stdout."""
    process = subprocess.run(
        [sys.executable, "-m", "dynalab.runtime.probe", str(spec_path), *map(str, args)],
        cwd=spec_path.parent, env=runtime_env(**(env or {})), capture_output=True, text=True,
        timeout=timeout, stdin=subprocess.DEVNULL,
    )
    return Result(process.returncode, read_events(process.stdout.splitlines()), process.stdout, process.stderr)


def kinds(events):
    return [event["event"] for event in events]


def of_kind(events, kind):
    return [event for event in events if event["event"] == kind]


def dump(result):
    """Everything a failing assertion should show."""
    return json.dumps(result.events, indent=1)[:6000] + "\nSTDOUT:\n" + result.stdout[-3000:] + "\nSTDERR:\n" + result.stderr[-3000:]
