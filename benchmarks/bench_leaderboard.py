"""A leaderboard of 1,000 published models over 5 datasets: how long the server takes to answer it.

    python benchmarks/bench_leaderboard.py [--runs 20] [--sizes 100,1000]

For each size, a data dir is filled with that many published, evaluated
models of the nli task (scores on 5 scoring datasets, written to the database
directly: this measures reading them), then a real server (``dynalab-server
run``) answers the task page (``/tasks/nli``, HTML with the plot) and the JSON
(``/tasks/nli/leaderboard``) ``--runs`` times each over loopback. The baseline
in the same run is ``/health`` (a request that reads nothing): the ratio says what
the leaderboard costs beyond HTTP. "server" is the server's own time (its
``Server-Timing`` header), "round trip" what the client waited, body included.

"fresh" requests carry a new weight each, so that the board is read from the
database and scored again, as it is after any change to it; the others are
answered from the server's board cache, as while nothing changes.

Target: under 100 ms each at 1,000 models on this machine; the growth from 100
to 1,000 models shows how it scales (linear at worst: no query per model).
"""

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dynalab.server.db.database import Database  # noqa: E402
from dynalab.server.db.models import Dataset, Evaluation, Upload, User, utcnow  # noqa: E402
from dynalab.server.settings import sqlite_url  # noqa: E402
from dynalab.testing.server_process import ServerProcess  # noqa: E402

DATASETS = 5
# "fresh": a new weight each request, so the board is read and scored again (as after any change to it);
# the others are served from the board cache while nothing changes.
PATHS = {"task page, fresh": "/tasks/nli?weights=accuracy:{run}", "JSON, fresh": "/tasks/nli/leaderboard?weights=accuracy:{run}",
         "task page": "/tasks/nli", "leaderboard JSON": "/tasks/nli/leaderboard", "baseline /health": "/health"}


def fill(data_dir, models):
    """``models`` published models with a score on each of ``DATASETS`` scoring datasets."""
    rng = random.Random(models)
    data_dir.mkdir(parents=True)
    db = Database(sqlite_url(data_dir))
    now = utcnow()
    with db.session() as session:
        users = [User(email=f"user{i}@example.org", api_token_hash=f"{i:064x}") for i in range(max(1, models // 10))]
        datasets = [Dataset(task_code="nli", name=f"round{i + 1}", access="scoring", weight=float(i + 1),
                            sha256=f"{i:064x}", examples=1000) for i in range(DATASETS)]
        session.add_all(users + datasets)
        session.flush()
        uploads = [Upload(user_id=users[i % len(users)].id, name=f"model-{i}", task_code="nli", sha256=f"{i:064x}",
                          size=1000, status="evaluated", created_at=now - timedelta(minutes=i), published=True,
                          published_at=now, card_anonymous=i % 7 == 0) for i in range(models)]
        session.add_all(uploads)
        session.flush()
        session.add_all(Evaluation(
            model_id=upload.id, dataset_id=dataset.id, status="done",
            metrics=json.dumps({"accuracy": rng.uniform(0.3, 0.95), "macro_f1": rng.uniform(0.3, 0.95)}),
            examples_per_second=rng.uniform(10, 5000), peak_memory_mb=rng.uniform(100, 8000), started_at=now,
            finished_at=now) for upload in uploads for dataset in datasets)
        session.commit()
    db.dispose()


def timed(http, url, runs):
    """Medians of the round trip and of the server's own time (its ``Server-Timing`` header), and the size."""
    times, server_times = [], []
    for run in range(runs):
        started = time.perf_counter()
        response = http.get(url.format(run=4 + run / 1000 + random.random() / 1e6), timeout=60)
        times.append(time.perf_counter() - started)
        response.raise_for_status()
        server_times.append(float(response.headers["server-timing"].partition("dur=")[2]) / 1000)
    return statistics.median(times), statistics.median(server_times), len(response.content)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--sizes", default="100,1000", help="numbers of published models, comma-separated")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    results = {}
    with tempfile.TemporaryDirectory(prefix="dynalab-bench-board-") as scratch:
        for size in sizes:
            data_dir = Path(scratch) / f"data-{size}"
            fill(data_dir, size)
            with ServerProcess(data_dir, extra_args=("--workers", "0")) as server, requests.Session() as http:
                http.trust_env = False  # loopback only
                assert len(http.get(server.url + "/tasks/nli/leaderboard").json()["models"]) == size
                for label, path in PATHS.items():
                    timed(http, server.url + path, 2)  # warm up
                    results[size, label] = timed(http, server.url + path, args.runs)
    print(f"Leaderboard of N published models over {DATASETS} datasets, median of {args.runs} requests "
          "over loopback (goal: < 100 ms each at 1,000 models)")
    print(f"{'models':>7}  {'answer':<18} {'server':>10} {'round trip':>11} {'x /health':>10} {'bytes':>10}")
    for size in sizes:
        baseline = results[size, "baseline /health"][0]
        for label in PATHS:
            median, server, size_bytes = results[size, label]
            print(f"{size:>7}  {label:<18} {server * 1000:>7.1f} ms {median * 1000:>8.1f} ms "
                  f"{median / baseline:>9.1f}x {size_bytes:>10,}")
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        for label in ("task page, fresh", "JSON, fresh", "task page", "leaderboard JSON"):
            growth = results[large, label][1] / results[small, label][1]
            print(f"{label}: {growth:.1f}x the server time for {large / small:g}x the models")


if __name__ == "__main__":
    main()
