"""The sandbox's memory cap: a memory cgroup of its own per run, else an address-space limit.

- cgroup v1: a child of this process's own memory cgroup
  (``/sys/fs/cgroup/memory/<own path>/dynalab-<pid>-<id>``) with
  ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes``: no swap);
  hit = ``oom_kill`` in ``memory.oom_control``, peak = ``memory.max_usage_in_bytes``.
- cgroup v2: a child of this process's own cgroup where the memory controller
  is delegated to it, with ``memory.max`` and ``memory.swap.max = 0``;
  hit = ``oom_kill`` in ``memory.events``, peak = ``memory.peak``.
- Neither: ``ulimit -v`` (RLIMIT_AS) on the sandbox's processes, with a note
  (a MemoryError then marks the hit; no peak is known).

The command joins the cgroup before it starts (``sh -c 'echo $$ > cgroup.procs; exec ...'``),
so every process of the run is counted. On the way out every process left in
the cgroup is killed and the cgroup removed; cgroups left by a process that
died (``kill -9``) are removed by the next run.
"""

import os
import signal
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "dynalab-"
JOIN = 'echo $$ > "$1" && shift && exec "$@"'
RLIMIT = 'ulimit -v "$1" && shift && exec "$@"'


class MemoryCap:
    """How one run's memory is capped and measured; see the module's docstring."""

    def __init__(self, limit_bytes, kind, path=None, note=None):
        self.limit_bytes = limit_bytes
        self.kind = kind  # "cgroup v1", "cgroup v2" or "rlimit"
        self.path = path
        self.note = note

    def command(self, command):
        """``command``, started inside the cap."""
        if self.path is not None:
            return ["/bin/sh", "-c", JOIN, "sh", str(self.path / "cgroup.procs"), *command]
        return ["/bin/sh", "-c", RLIMIT, "sh", str(self.limit_bytes // 1024), *command]

    def peak_bytes(self):
        """The most memory the run's processes used together so far, or None when unknown."""
        name = {"cgroup v1": "memory.max_usage_in_bytes", "cgroup v2": "memory.peak"}.get(self.kind)
        value = _read(self.path / name) if name else None
        return int(value) if value and value.strip().isdigit() else None

    def hit(self):
        """Whether the kernel killed a process of the run for going over the cap."""
        name = {"cgroup v1": "memory.oom_control", "cgroup v2": "memory.events"}.get(self.kind)
        text = _read(self.path / name) if name else None
        for line in (text or "").splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value) > 0
        return False

    def kill_all(self):
        """SIGKILL every process still in the cgroup (none escape it: children inherit it)."""
        if self.path is None:
            return
        for _ in range(50):
            pids = [int(pid) for pid in (_read(self.path / "cgroup.procs") or "").split()]
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)

    def remove(self):
        if self.path is None:
            return
        self.kill_all()
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:  # EBUSY while the last killed process is reaped
                time.sleep(0.05)


@contextmanager
def memory_cap(limit_bytes):
    """A MemoryCap of ``limit_bytes`` for one run, removed (its processes killed) on the way out."""
    cap = _cgroup_v1(limit_bytes) or _cgroup_v2(limit_bytes)
    if cap is None:
        cap = MemoryCap(limit_bytes, "rlimit", note=(
            "note: no memory cgroup can be made here, so the sandbox's memory is capped per process "
            "with an address-space limit (ulimit -v), which counts reserved as well as used memory; "
            "`--backend docker` caps it as the deployment does"))
    try:
        yield cap
    finally:
        cap.remove()


def _own_cgroup(controller):
    """This process's cgroup path for ``controller`` (v1), or its unified path for None (v2)."""
    text = _read(Path("/proc/self/cgroup")) or ""
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if (controller is None and controllers == "") or (controller and controller in controllers.split(",")):
            return path.lstrip("/")
    return None


def _cgroup_v1(limit_bytes):
    own = _own_cgroup("memory")
    mount = CGROUP_ROOT / "memory"
    if own is None or not (mount / "memory.limit_in_bytes").exists():
        return None
    parent = mount / own
    child = _make_child(parent)
    if child is None:
        return None
    try:
        (child / "memory.limit_in_bytes").write_text(str(limit_bytes))
        if (child / "memory.memsw.limit_in_bytes").exists():
            (child / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))  # no swap past the cap
    except OSError:
        _rmdir(child)
        return None
    return MemoryCap(limit_bytes, "cgroup v1", child)


def _cgroup_v2(limit_bytes):
    own = _own_cgroup(None)
    if own is None or not (CGROUP_ROOT / "cgroup.controllers").exists():
        return None
    parent = CGROUP_ROOT / own
    if "memory" not in (_read(parent / "cgroup.subtree_control") or "").split():
        try:
            (parent / "cgroup.subtree_control").write_text("+memory")
        except OSError:  # not delegated to us, or our own cgroup holds processes ("no internal processes")
            return None
    child = _make_child(parent)
    if child is None:
        return None
    try:
        (child / "memory.max").write_text(str(limit_bytes))
        if (child / "memory.swap.max").exists():
            (child / "memory.swap.max").write_text("0")
    except OSError:
        _rmdir(child)
        return None
    return MemoryCap(limit_bytes, "cgroup v2", child)


def _make_child(parent):
    _sweep(parent)
    child = parent / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        child.mkdir()
    except OSError:
        return None
    return child


def _sweep(parent):
    """Remove the cgroups of runs whose process is gone (a server killed with SIGKILL)."""
    try:
        children = [path for path in parent.iterdir() if path.is_dir() and path.name.startswith(PREFIX)]
    except OSError:
        return
    for child in children:
        pid = child.name[len(PREFIX):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            MemoryCap(0, "stale", child).remove()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _rmdir(path):
    try:
        path.rmdir()
    except OSError:
        pass


def _read(path):
    try:
        return path.read_text()
    except OSError:
        return None
