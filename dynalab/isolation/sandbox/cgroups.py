"""The sandbox's memory and CPU caps: cgroups of its own per run, else an address-space limit.

- cgroup v1: a child of this process's own memory cgroup
  (``/sys/fs/cgroup/memory/<own path>/dynalab-<pid>-<id>``) with
  ``memory.limit_in_bytes`` (and ``memory.memsw.limit_in_bytes``: no swap);
  hit = ``oom_kill`` in ``memory.oom_control``, peak = ``memory.max_usage_in_bytes``;
  and a child of its own cpu cgroup with ``cpu.cfs_quota_us`` = CPUs x ``cpu.cfs_period_us``.
- cgroup v2: a child of this process's own cgroup where the memory (and cpu)
  controllers are delegated to it, with ``memory.max``, ``memory.swap.max = 0``
  and ``cpu.max``; hit = ``oom_kill`` in ``memory.events``, peak = ``memory.peak``.
- Neither: ``ulimit -v`` (RLIMIT_AS) on the sandbox's processes and no CPU
  cap, with a note (a MemoryError then marks the hit; no peak is known).

The command joins its cgroups before it starts (``sh -c 'echo $$ > cgroup.procs; exec ...'``),
so every process of the run is counted. On the way out every process left in
them is killed and the cgroups removed; cgroups left by a process that died
(``kill -9``) are removed by the next run.
"""

import os
import signal
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "dynalab-"
JOIN = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'
RLIMIT = 'ulimit -v "$1" && shift && exec "$@"'
PEAK_FILES = ("memory.max_usage_in_bytes", "memory.peak")
EVENTS_FILES = ("memory.oom_control", "memory.events")


class Caps:
    """How one run's memory and CPUs are capped and its memory measured; see the module's docstring."""

    def __init__(self, memory_bytes, cgroups=(), memory_cgroup=None, notes=()):
        self.memory_bytes = memory_bytes
        self.cgroups = list(cgroups)  # every cgroup the run joins
        self.memory_cgroup = memory_cgroup
        self.notes = list(notes)

    def command(self, command):
        """``command``, started inside the caps."""
        if not self.cgroups and not self.notes:  # caps(rlimit=False) where no cgroup can be made
            return list(command)
        if self.memory_cgroup is not None:
            return ["/bin/sh", "-c", JOIN, "sh", *(str(cgroup / "cgroup.procs") for cgroup in self.cgroups), "--", *command]
        joined = ["/bin/sh", "-c", JOIN, "sh", *(str(cgroup / "cgroup.procs") for cgroup in self.cgroups), "--"]
        return [*joined, "/bin/sh", "-c", RLIMIT, "sh", str(self.memory_bytes // 1024), *command]

    def peak_bytes(self):
        """The most memory the run's processes used together so far, or None when unknown."""
        for name in PEAK_FILES:
            value = _read(self.memory_cgroup / name) if self.memory_cgroup else None
            if value and value.strip().isdigit():
                return int(value)
        return None

    def hit(self):
        """Whether the kernel killed a process of the run for going over the memory cap."""
        for name in EVENTS_FILES:
            text = _read(self.memory_cgroup / name) if self.memory_cgroup else None
            for line in (text or "").splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit():
                    return int(value) > 0
        return False

    def remove(self):
        """Kill every process left in the run's cgroups (children inherit them: none escape), remove them."""
        for cgroup in self.cgroups:
            _remove(cgroup)


@contextmanager
def caps(memory_bytes, cpus, rlimit=True):
    """The Caps of one run: ``memory_bytes`` for its processes together, ``cpus`` CPUs; removed on the way out.

    Without cgroups: the address-space limit when ``rlimit``, else no cap at all (the command unchanged).
    """
    made = _v1(memory_bytes, cpus) or _v2(memory_bytes, cpus)
    if made is None and not rlimit:
        made = Caps(memory_bytes)
    elif made is None:
        made = Caps(memory_bytes, notes=[
            "note: no memory cgroup can be made here, so the sandbox's memory is capped per process "
            "with an address-space limit (ulimit -v), which counts reserved as well as used memory, "
            "and its CPUs are not capped; `--backend docker` caps both as the deployment does"])
    try:
        yield made
    finally:
        made.remove()


def _own_cgroup(controller):
    """This process's cgroup path for ``controller`` (v1), or its unified path for None (v2)."""
    for line in (_read(Path("/proc/self/cgroup")) or "").splitlines():
        _, controllers, path = line.split(":", 2)
        if (controller is None and controllers == "") or (controller and controller in controllers.split(",")):
            return path.lstrip("/")
    return None


def _v1(memory_bytes, cpus):
    memory = _v1_child("memory", {"memory.limit_in_bytes": memory_bytes, "memory.memsw.limit_in_bytes": memory_bytes})
    if memory is None:
        return None
    period = _read(CGROUP_ROOT / "cpu" / (_own_cgroup("cpu") or "") / "cpu.cfs_period_us")
    cpu = None
    if period and period.strip().isdigit():
        cpu = _v1_child("cpu", {"cpu.cfs_quota_us": int(cpus * int(period))})
    notes = [] if cpu else ["note: no cpu cgroup can be made here, so the sandbox's CPUs are not capped"]
    return Caps(memory_bytes, [c for c in (memory, cpu) if c], memory, notes)


def _v1_child(controller, settings):
    own = _own_cgroup(controller)
    if own is None or not (CGROUP_ROOT / controller).is_dir():
        return None
    child = _make_child(CGROUP_ROOT / controller / own)
    if child is None:
        return None
    try:
        first = next(iter(settings))
        if not (child / first).exists():  # the controller is not there after all
            raise OSError(f"no {first}")
        for name, value in settings.items():
            if (child / name).exists():  # memory.memsw.*: only with swap accounting
                (child / name).write_text(str(value))
    except OSError:
        _remove(child)
        return None
    return child


def _v2(memory_bytes, cpus):
    own = _own_cgroup(None)
    if own is None or not (CGROUP_ROOT / "cgroup.controllers").exists():
        return None
    parent = CGROUP_ROOT / own
    enabled = (_read(parent / "cgroup.subtree_control") or "").split()
    for controller in ("memory", "cpu"):
        if controller not in enabled:
            try:
                (parent / "cgroup.subtree_control").write_text(f"+{controller}")
                enabled.append(controller)
            except OSError:  # not delegated to us, or our own cgroup holds processes ("no internal processes")
                pass
    if "memory" not in enabled:
        return None
    child = _make_child(parent)
    if child is None:
        return None
    notes = []
    try:
        (child / "memory.max").write_text(str(memory_bytes))
        if (child / "memory.swap.max").exists():
            (child / "memory.swap.max").write_text("0")
        if (child / "cpu.max").exists():
            (child / "cpu.max").write_text(f"{int(cpus * 100000)} 100000")
        else:
            notes.append("note: the cpu controller is not delegated here, so the sandbox's CPUs are not capped")
    except OSError:
        _remove(child)
        return None
    return Caps(memory_bytes, [child], child, notes)


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
            _remove(child)


def _remove(cgroup):
    for _ in range(100):
        pids = [int(pid) for pid in (_read(cgroup / "cgroup.procs") or "").split()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            cgroup.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:  # EBUSY while the last killed process is reaped
            time.sleep(0.05)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path):
    try:
        return path.read_text()
    except OSError:
        return None
