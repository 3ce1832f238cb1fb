"""Run the model server and the probe side by side, inside the isolation boundary.

    python dynalab_launcher.py --spec SPEC [--startup-timeout S] [--request-timeout S] [--loopback]

Copied next to the runtime into the sandbox or the container and run there as
a script, so it uses the standard library only. It brings the loopback
interface up (a fresh network namespace has it down), starts
``dynalab.runtime.server`` on a free port of 127.0.0.1, runs
``dynalab.runtime.probe`` against it, then stops the server. Every output line
is prefixed with its source (``server|``, ``probe|``, ``launcher|``) so the
host can tell the probe's events from the handler's prints.

Exit status: the probe's (0 = every datapoint passed); if the server dies
first, 128 + its signal, or ``SERVER_EXITED``.
"""

import argparse
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading

SERVER_EXITED = 3
SERVER, PROBE, LAUNCHER = "server| ", "probe| ", "launcher| "  # what starts each output line, by source
PREFIXES = (SERVER, PROBE, LAUNCHER)
_write_lock = threading.Lock()


def say(prefix, line):
    with _write_lock:
        sys.stdout.write(prefix + line.rstrip("\n") + "\n")
        sys.stdout.flush()


def loopback_up():
    """Set IFF_UP on ``lo`` (what ``ip link set lo up`` does), if it is down."""
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, siocgifflags, request))[1]
        if not flags & iff_up:
            fcntl.ioctl(sock, siocsifflags, struct.pack("16sH22x", b"lo", flags | iff_up))


def _pump(stream, prefix):
    for line in iter(stream.readline, ""):
        say(prefix, line)
    stream.close()


def _start(command, prefix):
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1)
    thread = threading.Thread(target=_pump, args=(process.stdout, prefix), daemon=True)
    thread.start()
    return process, thread


def _stop(process, grace=5.0):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    parser.add_argument("--startup-timeout", type=float, default=300.0)
    parser.add_argument("--request-timeout", type=float, default=60.0)
    parser.add_argument("--loopback", action="store_true", help="bring lo up first (fresh network namespace)")
    args = parser.parse_args(argv)

    if args.loopback:
        try:
            loopback_up()
        except OSError as error:
            say(LAUNCHER, f"cannot bring the loopback interface up: {error}")
            return SERVER_EXITED
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="dynalab-launcher-") as scratch:
        port_file = os.path.join(scratch, "port")
        server, server_out = _start(
            [python, "-m", "dynalab.runtime.server", args.spec, "--host", "127.0.0.1", "--port", "0", "--port-file", port_file],
            SERVER,
        )
        probe, probe_out = _start(
            [python, "-m", "dynalab.runtime.probe", args.spec, "--port-file", port_file,
             "--startup-timeout", str(args.startup_timeout), "--request-timeout", str(args.request_timeout)],
            PROBE,
        )
        try:
            status = _watch(server, probe)
        finally:
            _stop(probe)
            _stop(server)
            server_out.join(5)
            probe_out.join(5)
    say(LAUNCHER, f"exit {status}")
    return status


def _watch(server, probe):
    """The probe's exit status, or the server's if it dies before the probe is done."""
    while True:
        try:
            return probe.wait(0.2)
        except subprocess.TimeoutExpired:
            pass
        code = server.poll()
        if code is not None:
            # Give the probe a moment to report what it saw, then stop it.
            try:
                probe.wait(2)
            except subprocess.TimeoutExpired:
                pass
            if code < 0:
                name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
                say(LAUNCHER, f"the model server was killed by signal {-code} ({name}) before the test finished")
                return 128 - code
            say(LAUNCHER, f"the model server exited with status {code} before the test finished")
            return SERVER_EXITED


if __name__ == "__main__":
    sys.exit(main())
