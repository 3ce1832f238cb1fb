"""Upload a ~1 GB model archive packaged by dynalab itself; print throughput and peak memory.

    python benchmarks/bench_upload.py [--size-mb 1024] [--workdir DIR]

The archive is what ``dynalab-cli package`` makes of a project with big random
weights (``dynalab.packaging.build_archive``): the checkpoint is stored at
level 0 in a gzip member of its own, which is what the server must check at
network speed. Figures, all in the same run:

- the server's archive check alone, in this process, against ``tar tzf`` of
  the same file (GNU tar reading it through gzip);
- uploads to one local server (``dynalab-server``, started here on a temporary
  data dir, one user per upload so the quota never refuses one): with
  dynalab's client, and with ``curl -F`` as the baseline. Each uploader runs
  in a child process whose peak RSS comes from ``os.wait4``; the server's
  peak RSS (VmHWM) is read after a 1 MB upload and after the big ones, so
  flat memory shows as two close numbers. Times include the server's check,
  which runs as the body arrives; our client is given the archive's sha256,
  as the upload step is.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# The server this starts runs this checkout too, whichever copy of Dynalab is installed.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p)

MODEL = "bench"
TASK = "nli"
MIB = 1 << 20
GNU_TIME = Path("/usr/bin/time")


def make_archive(workdir, size_mb):
    """The archive ``package`` builds for a project with ``size_mb`` MiB of random weights (reused)."""
    from dynalab.project.config import save_config, validate_config
    from dynalab.packaging import build_archive
    from dynalab.project import Project

    root = workdir / f"project-{size_mb}mb"
    weights = root / "model.pt"
    if not weights.exists() or weights.stat().st_size != size_mb * MIB:
        root.mkdir(parents=True, exist_ok=True)
        (root / "handler.py").write_text("def handle(data, context):\n    return []\n")
        partial = weights.with_suffix(".partial")
        with open(partial, "wb") as f:
            for _ in range(size_mb):
                f.write(os.urandom(MIB))
        partial.rename(weights)
    project = Project(root)
    project.model_dir(MODEL).mkdir(parents=True, exist_ok=True)
    config = validate_config(project, {"task": TASK, "checkpoint": "model.pt", "handler": "handler.py"},
                             source="bench config")
    save_config(project, MODEL, config)
    return build_archive(root, MODEL, config, workdir / f"{MODEL}-{size_mb}mb.tar.gz")


def run_child(argv):
    """Run ``argv``; return (seconds, peak RSS in MiB, stdout).

    The peak comes from GNU time (``/usr/bin/time -f %M``) where it is
    installed: a child forked from this Python process would otherwise count
    this process's memory as its own, since Linux keeps the peak across exec.
    Without it, ``os.wait4``'s figure is printed, an upper bound.
    """
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss_file:
        timed = ["/usr/bin/time", "-f", "%M", "-o", rss_file.name, *argv] if GNU_TIME.exists() else argv
        started = time.monotonic()
        process = subprocess.Popen(timed, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # wait4 instead of communicate: it hands back this child's own rusage.
        # Our children print a few lines only, so the pipes cannot fill up.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        out, err = process.stdout.read().decode(), process.stderr.read().decode()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{argv[0]} failed ({os.waitstatus_to_exitcode(status)}):\n{out}\n{err}")
        kib = int(rss_file.read().split()[-1]) if GNU_TIME.exists() else usage.ru_maxrss
    return seconds, kib / 1024, out


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM:")).split()[1]) / 1024


def client_upload(url, token, archive, sha256, root):
    """In the child: one upload with our client, timed inside the process."""
    from dynalab.client.upload import upload

    started = time.monotonic()
    receipt = upload(url, token, MODEL, TASK, archive, progress=False, root=root, sha256=sha256)
    print(json.dumps({"seconds": time.monotonic() - started, "model_id": receipt.model_id}))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="size of the checkpoint in the archive")
    parser.add_argument("--workdir", help="keep the project and archive here between runs (default: a temp dir)")
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


def time_check(path):
    from dynalab.server.intake.archive_check import check_archive

    started = time.monotonic()
    summary = check_archive(path, MODEL, TASK, 100 * 1024**3)
    return time.monotonic() - started, summary


def run(args, workdir):
    from dynalab.client import api
    from dynalab.testing.server_process import ServerProcess

    print(f"Packaging a project with {args.size_mb} MiB of random weights in {workdir} ...", flush=True)
    big = make_archive(workdir, args.size_mb)
    small = make_archive(workdir, 1)
    size = big.size / MIB

    check_seconds, summary = time_check(big.path)
    tar_seconds, _, listing = run_child(["tar", "tzf", str(big.path)])
    assert "model.pt" in listing.split(), listing
    print(f"\nchecking the {size:.0f} MiB archive ({summary.members} members, stored checkpoint):")
    print(f"  dynalab-server's check  {check_seconds:6.2f} s  {size / check_seconds:6.0f} MiB/s")
    print(f"  tar tzf (baseline)      {tar_seconds:6.2f} s  {size / tar_seconds:6.0f} MiB/s"
          f"  -> check/tar speed {tar_seconds / check_seconds:.2f}x")

    rows = []
    with tempfile.TemporaryDirectory(prefix="dynalab-bench-server-") as data:
        with ServerProcess(data, extra_args=["--log-level", "warning"]) as server:
            for archive in (small, big):
                token = server.add_user(f"client-{archive.size}@bench.example")
                child = [sys.executable, __file__, "--child", server.url, token, str(archive.path), archive.sha256,
                         str(workdir)]
                _, rss, out = run_child(child)
                rows.append(("dynalab client", archive, json.loads(out.strip().splitlines()[-1])["seconds"], rss,
                             peak_rss_mib(server.pid)))

            bearer = api.bearer(server.url, server.add_user("curl@bench.example"))
            curl = [
                "curl", "--silent", "--show-error", "--fail", "--noproxy", "*",
                "-H", f"Authorization: Bearer {bearer}",
                "-F", f"name={MODEL}", "-F", f"taskCode={TASK}", "-F", f"tarball=@{big.path};type=application/gzip",
                f"{server.url}/models/upload/s3",
            ]
            seconds, rss, out = run_child(curl)
            assert json.loads(out)["sha256"] == big.sha256, out
            rows.append(("curl -F", big, seconds, rss, peak_rss_mib(server.pid)))

    print(f"\n{'uploader':<16}{'archive':>10}{'seconds':>10}{'MiB/s':>9}{'client RSS':>12}{'server peak RSS':>17}")
    for label, archive, seconds, rss, server_rss in rows:
        mib = archive.size / MIB
        print(f"{label:<16}{mib:>7.0f}MiB{seconds:>10.2f}{mib / seconds:>9.0f}{rss:>9.1f}MiB{server_rss:>14.1f}MiB")
    ours, curl_row = rows[1], rows[2]
    print(f"\ndynalab client / curl -F throughput: {curl_row[2] / ours[2]:.2f}x; "
          f"server peak RSS after 1 MiB vs after {size:.0f} MiB uploads: {rows[0][4]:.1f} vs {curl_row[4]:.1f} MiB")


if __name__ == "__main__":
    main()
