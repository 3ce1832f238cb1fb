"""Upload a ~1 GB model archive with dynalab's client and with curl; print throughput and peak RSS.

    python benchmarks/bench_upload.py [--size-mb 1024] [--workdir DIR]

Both uploads go to the same local server (``dynalab-server``, started here on
a temporary data dir) as separate users, so neither hits the upload quota.
Each one runs in a child process whose peak resident memory comes from
``os.wait4`` (the kernel's ``ru_maxrss``), so the figures are per process.
A 1 MB upload with our client gives the baseline: flat memory means the 1 GB
peak is no higher than the 1 MB one. Times include the server's check of the
archive, the same for both; our client is given the archive's sha256, as the
upload step is, so hashing is timed separately.
"""

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MODEL = "bench"
TASK = "nli"
CHUNK = 1 << 20


class RandomBytes(io.RawIOBase):
    """``size`` bytes of random data, read in chunks: a checkpoint that does not compress."""

    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = os.urandom(n)
        self.left -= n
        return n


def make_archive(path, size):
    """A model project as ``package`` builds it: config, handler and a big checkpoint."""
    if path.exists() and path.stat().st_size >= size:
        return path
    partial = path.with_suffix(".partial")
    # Level 1: random data does not compress, and a higher level only burns time here.
    with tarfile.open(partial, "w:gz", compresslevel=1) as tar:
        for name, data in (
            (f".dynalab/{MODEL}/config.yaml", f"task: {TASK}\ncheckpoint: model.pt\nhandler: handler.py\n".encode()),
            ("handler.py", b"def handle(data, context):\n    return []\n"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        info = tarfile.TarInfo("model.pt")
        info.size = size
        tar.addfile(info, io.BufferedReader(RandomBytes(size), CHUNK))
    partial.rename(path)
    return path


def run_child(argv):
    """Run ``argv``; return (seconds, peak RSS in MiB, stdout)."""
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # wait4 instead of communicate: it hands back this child's own rusage.
    # Our children print a few lines only, so the pipes cannot fill up.
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    out, err = process.stdout.read().decode(), process.stderr.read().decode()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({process.returncode}):\n{out}\n{err}")
    return seconds, usage.ru_maxrss / 1024, out


def client_upload(url, token, archive, sha256, root):
    """In the child: one upload with our client, timed inside the process."""
    from dynalab.client.upload import upload

    started = time.monotonic()
    receipt = upload(url, token, MODEL, TASK, archive, progress=False, root=root, sha256=sha256)
    print(json.dumps({"seconds": time.monotonic() - started, "model_id": receipt.model_id}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the checkpoint in the archive")
    parser.add_argument("--workdir", help="keep the archive here between runs (default: a temp dir)")
    parser.add_argument("--child", nargs=5, metavar=("URL", "TOKEN", "ARCHIVE", "SHA256", "ROOT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return client_upload(*args.child)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="dynalab-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run(args, workdir)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir)


def run(args, workdir):
    from dynalab.client import api
    from dynalab.fingerprint import sha256_file
    from dynalab.server.process import ServerProcess

    print(f"Building a {args.size_mb} MB archive in {workdir} ...", flush=True)
    big = make_archive(workdir / f"{MODEL}-{args.size_mb}mb.tar.gz", args.size_mb * CHUNK)
    small = make_archive(workdir / f"{MODEL}-1mb.tar.gz", CHUNK)
    started = time.monotonic()
    big_sha = sha256_file(big)
    hash_seconds = time.monotonic() - started

    rows = []
    with tempfile.TemporaryDirectory(prefix="dynalab-bench-server-") as data:
        with ServerProcess(data, extra_args=["--log-level", "warning"]) as server:
            for label, archive, sha in (("dynalab client", small, sha256_file(small)), ("dynalab client", big, big_sha)):
                token = server.add_user(f"client-{archive.stat().st_size}@bench.example")
                child = [sys.executable, __file__, "--child", server.url, token, str(archive), sha, str(workdir)]
                _, rss, out = run_child(child)
                rows.append((label, archive, json.loads(out.strip().splitlines()[-1])["seconds"], rss))

            bearer = api.bearer(server.url, server.add_user("curl@bench.example"))
            curl = [
                "curl", "--silent", "--show-error", "--fail", "--noproxy", "*",
                "-H", f"Authorization: Bearer {bearer}",
                "-F", f"name={MODEL}", "-F", f"taskCode={TASK}", "-F", f"tarball=@{big};type=application/gzip",
                f"{server.url}/models/upload/s3",
            ]
            seconds, rss, out = run_child(curl)
            assert json.loads(out)["sha256"] == big_sha, out
            rows.append(("curl -F", big, seconds, rss))

    print(f"\nsha256 of the {args.size_mb} MB archive: {hash_seconds:.1f} s "
          f"({big.stat().st_size / CHUNK / hash_seconds:.0f} MiB/s), not included below\n")
    print(f"{'uploader':<16}{'archive':>12}{'seconds':>10}{'MiB/s':>10}{'peak RSS MiB':>15}")
    for label, archive, seconds, rss in rows:
        size = archive.stat().st_size / CHUNK
        print(f"{label:<16}{size:>10.0f}MB{seconds:>10.2f}{size / seconds:>10.0f}{rss:>15.1f}")


if __name__ == "__main__":
    main()
