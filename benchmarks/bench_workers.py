"""Six queued evaluations of a slow model: the embedded worker against one and two Celery workers on Redis.

    python benchmarks/bench_workers.py [--examples 20] [--backend sandbox]

The model is the slow-nli fixture project (tests/projects/slow-nli: 0.1 s an
example), uploaded once with ``dynalab-cli upload`` to a server whose nli
task has six datasets of ``--examples`` examples each: once deployed, its
six evaluations are queued at once. Each configuration gets a fresh server
(data dir and SQLite of its own) on the same machine:

- embedded: ``dynalab-server run --workers 1`` (the default);
- one Celery worker: ``run --broker`` and one ``dynalab-server worker``;
- two Celery workers: the same with two.

Printed for each: the wall time from the upload's end to ``evaluated``, and
of the evaluation phase alone (``evaluating`` to ``evaluated``, polled every
20 ms), against the model's own time (six datasets at 0.1 s an example);
then the speed-up of two workers over one, and the overhead per job of
going through Celery and HTTP against the embedded worker
((one worker's wall time - the embedded one's) / 7 jobs: a deployment and
six evaluations). A warm-up run first builds the sandbox's cached
environments, so that no configuration pays for them.

Needs redis-server (``.ci/setup`` installs it) and the server's extra.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# Every process started here runs this checkout, whichever copy of Dynalab is installed.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p)

import requests  # noqa: E402

from dynalab.testing.remote_workers import RedisProcess, WorkerProcess  # noqa: E402
from dynalab.testing.server_process import ServerProcess  # noqa: E402

PROJECT = REPO / "tests" / "projects" / "slow-nli"
NAME = "slow"
SECONDS_PER_EXAMPLE = 0.1
DATASETS = 6
JOBS = DATASETS + 1  # the deployment, then the evaluations
INIT = ["init", "-n", NAME, "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py"]


def cli(work, *args, env=None):
    result = subprocess.run([sys.executable, "-m", "dynalab.cli", *args], cwd=work / "project", capture_output=True,
                            text=True, env={**os.environ, "DYNALAB_HOME": str(work / "home"), "CI": "true",
                                            **(env or {})}, timeout=900)
    if result.returncode != 0:
        raise SystemExit(f"dynalab-cli {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def dataset_file(work, examples):
    path = work / f"dev-{examples}.jsonl"
    labels = ("entailed", "neutral", "contradictory")
    path.write_text("".join(json.dumps({"uid": f"ex-{i}", "context": f"Person {i} reads.", "hypothesis": "x" * (i % 5 + 1),
                                        "label": labels[i % 3]}) + "\n" for i in range(examples)))
    return path


def run(work, label, examples, datasets, backend, redis=None, workers=0):
    """Seconds from the upload's end to ``evaluated``, and of the evaluation phase alone."""
    data = work / f"data-{label}"
    extra = ["--backend", backend] + (["--broker", redis.url] if redis else ["--workers", "1"])
    with ExitStack() as stack:
        server = stack.enter_context(ServerProcess(data, extra_args=extra))
        path = dataset_file(work, examples)
        for number in range(1, datasets + 1):
            added = server.cli("add-dataset", "--task", "nli", "--name", f"dev{number}", str(path))
            assert added.returncode == 0, added.stderr
        for number in range(workers):
            token = server.cli("add-worker", f"w{number + 1}").stdout.strip().splitlines()[-1]
            stack.enter_context(WorkerProcess(work / f"worker-{label}-{number + 1}", redis.url, server.url, token,
                                              extra_args=["--backend", backend]))
        token = server.add_user(f"{label}@example.org")
        cli(work, "upload", "-n", NAME, "--no-progress",
            env={"DYNALAB_API_URL": server.url, "DYNALAB_API_TOKEN": token})
        uploaded = time.monotonic()
        http = requests.Session()
        http.trust_env = False
        bearer = http.get(f"{server.url}/authenticate/refresh_from_api", params={"api_token": token}).json()["token"]
        headers = {"Authorization": f"Bearer {bearer}"}
        model_id = http.get(f"{server.url}/models", headers=headers).json()[0]["model_id"]
        evaluating = None
        while True:
            model = http.get(f"{server.url}/models/{model_id}", headers=headers).json()
            if model["status"] == "evaluating" and evaluating is None:
                evaluating = time.monotonic()
            if model["status"] in ("evaluated", "failed"):
                break
            time.sleep(0.02)
        done = time.monotonic()
        if model["status"] != "evaluated":
            raise SystemExit(f"{label}: the model failed: {model['failure']}\n{server.log()[-3000:]}")
        ran_on = sorted({dataset["worker"] for dataset in model["datasets"]})
    return done - uploaded, done - (evaluating or uploaded), ran_on


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20, help="examples per dataset (default 20: 2 s each)")
    parser.add_argument("--backend", choices=("sandbox", "docker"), default="sandbox")
    options = parser.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is needed: run .ci/setup")

    with tempfile.TemporaryDirectory(prefix="bench-workers-") as folder:
        work = Path(folder)
        shutil.copytree(PROJECT, work / "project")
        (work / "home").mkdir()
        cli(work, *INIT)
        print(f"warm-up (builds the cached environments): {run(work, 'warm-up', 1, 1, options.backend)[0]:.1f} s")
        model_seconds = DATASETS * options.examples * SECONDS_PER_EXAMPLE
        with RedisProcess(work / "redis") as redis:
            results = {
                "embedded worker": run(work, "embedded", options.examples, DATASETS, options.backend),
                "1 Celery worker": run(work, "celery-1", options.examples, DATASETS, options.backend, redis, 1),
                "2 Celery workers": run(work, "celery-2", options.examples, DATASETS, options.backend, redis, 2),
            }

    print(f"\n{DATASETS} evaluations of {options.examples} examples at {SECONDS_PER_EXAMPLE} s an example "
          f"(the model's own time: {model_seconds:.1f} s in all), backend {options.backend}:")
    print(f"{'':18} {'upload to evaluated':>20} {'evaluation phase':>17}  workers named")
    for label, (total, phase, ran_on) in results.items():
        print(f"{label:18} {total:19.2f}s {phase:16.2f}s  {', '.join(ran_on)}")
    embedded, one, two = (results[key] for key in results)
    print(f"\nspeed-up of 2 Celery workers over 1: {one[0] / two[0]:.2f}x (upload to evaluated), "
          f"{one[1] / two[1]:.2f}x (evaluation phase)")
    print(f"overhead per job, 1 Celery worker against the embedded worker: {(one[0] - embedded[0]) / JOBS:+.3f} s "
          f"({one[0] / embedded[0]:.2f}x the embedded worker's wall time)")


if __name__ == "__main__":
    main()
