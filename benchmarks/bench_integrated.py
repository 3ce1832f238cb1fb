"""Figures of packaging and the integrated test, printed one a line.

    python benchmarks/bench_integrated.py [--size-mb 512] [--backends sandbox,docker] [--skip-package]

- package: our archive against `tar -czf` on a project with SIZE MB of random weights;
- integrated test on the bundled example, per backend: cold (sandbox: empty
  environment cache; docker: first build of the project's image, the
  torch layer possibly cached by an earlier build), warm (after a handler-only edit);
- no-op rerun: `dynalab-cli test -n NAME` a second time with nothing changed
  (the CLI's step cache skips everything).

Targets: package >= 3x faster than tar -czf; sandbox warm <= 15 s; docker warm <= 30 s; no-op <= 1 s.
Docker needs DYNALAB_DOCKER_BASE_IMAGE to name a local image where no registry is reachable.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "nli-bow"
sys.path.insert(0, str(REPO))

from dynalab.packaging import build_archive  # noqa: E402
from dynalab.project import Project  # noqa: E402
from dynalab.project.config import save_config, validate_config  # noqa: E402
from dynalab.project.task_definitions import write_packaged_copy  # noqa: E402
from dynalab.steps.actions.integrated_test import run_integrated_test  # noqa: E402
from dynalab.tasks.registry import load_builtin  # noqa: E402

NAME = "bench"
EXAMPLE_CONFIG = {"task": "nli", "checkpoint": "model.pt", "handler": "handler.py",
                  "model_files": ["labels.py", "vocab.json"], "exclude": ["train.py"]}


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    function(*args, **kwargs)
    return time.perf_counter() - started


def bench_package(workdir, size_mb):
    root = workdir / "weights-project"
    root.mkdir()
    shutil.copy2(EXAMPLE / "handler.py", root / "handler.py")
    with open(root / "model.pt", "wb") as weights:
        for _ in range(size_mb):
            weights.write(os.urandom(1 << 20))
    tar_seconds = timed(subprocess.run, ["tar", "-czf", str(workdir / "tar.tar.gz"), "-C", str(root), "."], check=True)
    config = {"task": "nli", "exclude": []}
    out = root / ".dynalab" / NAME / "build" / f"{NAME}.tar.gz"
    ours = timed(build_archive, root, NAME, config, out, force=True)
    rerun = timed(build_archive, root, NAME, config, out)
    print(f"package {size_mb} MB random weights: tar -czf {tar_seconds:.2f}s, dynalab {ours:.2f}s "
          f"({tar_seconds / ours:.1f}x faster); unchanged rerun {rerun * 1000:.0f} ms")


def example_project(workdir, label):
    root = workdir / f"example-{label}"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".dynalab*"))
    project = Project(root)
    config = validate_config(project, dict(EXAMPLE_CONFIG), source="bench")
    save_config(project, NAME, config)
    write_packaged_copy(project, load_builtin("nli"))
    return project, config


def integrated(project, config, backend):
    archive = build_archive(project.root, NAME, config, project.build_dir(NAME) / f"{NAME}.tar.gz")
    log = project.logs_dir(NAME) / "integrated-test.log"
    return timed(run_integrated_test, project.root, NAME, config, backend, archive, log, out=lambda line: None)


def bench_backend(workdir, backend):
    project, config = example_project(workdir, backend)
    if backend == "sandbox":
        os.environ["DYNALAB_CACHE_DIR"] = str(workdir / "cold-cache")  # an empty environment cache
    cold = integrated(project, config, backend)
    with open(project.root / "handler.py", "a") as handler:
        handler.write("# a handler-only edit\n")
    warm = integrated(project, config, backend)
    os.environ.pop("DYNALAB_CACHE_DIR", None)
    print(f"integrated test ({backend}) on the example: cold {cold:.1f}s, warm (handler edit) {warm:.1f}s")
    noop_rerun(workdir, backend)


def noop_rerun(workdir, backend):
    """Hook: the CLI's step cache makes an unchanged rerun a no-op; time `dynalab-cli test` run twice."""
    root = workdir / f"cli-{backend}"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".dynalab*"))
    env = {**os.environ, "DYNALAB_HOME": str(workdir / "home"), "CI": "true"}
    cli = [sys.executable, "-m", "dynalab.cli"]
    steps = [
        ["init", "-n", NAME, "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py",
         "--model-files", "vocab.json,labels.py", "--exclude", "train.py"],
        ["test", "-n", NAME, "--backend", backend],
    ]
    for args in steps:
        result = subprocess.run(cli + args, cwd=root, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            print(f"no-op rerun ({backend}): n/a (`dynalab-cli {args[0]}` failed: {(result.stdout + result.stderr).strip()[-300:]})")
            return
    seconds = timed(subprocess.run, cli + steps[-1], cwd=root, env=env, capture_output=True, stdin=subprocess.DEVNULL, check=True)
    print(f"no-op rerun ({backend}): `dynalab-cli test` with nothing changed {seconds:.2f}s")


def remove_bench_images():
    """Remove the images this script built, but the newest: its layers keep torch cached."""
    try:
        from dynalab.isolation.docker.backend import docker_client
        from dynalab.isolation.docker.image import LABEL

        client = docker_client()
    except Exception:
        return
    tags = sorted((image.attrs["Created"], tag) for image in client.images.list(filters={"label": f"{LABEL}={NAME}"})
                  for tag in image.tags if tag.startswith("dynalab-test/"))
    for _, tag in tags[:-1]:
        client.images.remove(tag)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=512)
    parser.add_argument("--backends", default="sandbox,docker")
    parser.add_argument("--skip-package", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dynalab-bench-") as scratch:
        workdir = Path(scratch)
        if not args.skip_package:
            bench_package(workdir, args.size_mb)
        for backend in filter(None, args.backends.split(",")):
            try:
                bench_backend(workdir, backend)
            except Exception as error:
                print(f"integrated test ({backend}): failed: {error} ({getattr(error, 'hint', '')})")
        if "docker" in args.backends:
            remove_bench_images()


if __name__ == "__main__":
    main()
