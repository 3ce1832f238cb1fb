"""Add a large nli dataset and score it; print throughput and peak memory.

    python benchmarks/bench_datasets.py [--size-mb 200] [--workdir DIR]

Figures, all in the same run:

- ``dynalab-server add-dataset`` on a JSON-lines file of about ``--size-mb`` MB, in a
  child process (time, and peak RSS from ``os.wait4``), against the floor: reading
  the same file line by line and parsing each line with ``json.loads``, in this process;
- ``score`` (accuracy and macro_f1) over every example of that dataset, with the
  gold targets read back by ``dataset_targets``.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p)

LABELS = ("entailed", "neutral", "contradictory")


def write_dataset(path, size_mb):
    rng = random.Random(0)
    words = "a man woman child dog is reading playing eating running in the park at night with friends".split()
    count = 0
    with open(path, "w") as file:
        while file.tell() < size_mb * 1_000_000:
            context = " ".join(rng.choice(words) for _ in range(40))
            file.write(json.dumps({"uid": f"ex-{count}", "context": context, "hypothesis": " ".join(words[:6]),
                                   "label": LABELS[count % 3]}) + "\n")
            count += 1
    return count


def parse_only(path):
    start = time.perf_counter()
    with open(path, "rb") as file:
        for line in file:
            json.loads(line)
    return time.perf_counter() - start


def add_dataset(data_dir, path):
    command = [sys.executable, "-m", "dynalab.server.cli", "add-dataset", "--data-dir", str(data_dir),
               "--task", "nli", "--name", "bench", str(path)]
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"add-dataset failed: {process.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as work:
        work = Path(work)
        path = work / "bench.jsonl"
        examples = write_dataset(path, args.size_mb)
        size = path.stat().st_size / 1e6
        floor = parse_only(path)
        data_dir = work / "data"
        data_dir.mkdir()
        elapsed, rss = add_dataset(data_dir, path)
        print(f"dataset: {examples:,} nli examples, {size:.0f} MB")
        print(f"add-dataset: {elapsed:.1f} s ({size / elapsed:.0f} MB/s, {examples / elapsed:,.0f} examples/s), "
              f"peak RSS {rss:.0f} MB")
        print(f"read + json.loads only: {floor:.1f} s ({size / floor:.0f} MB/s); add-dataset takes "
              f"{elapsed / floor:.1f}x that")

        from dynalab.server.datasets import DatasetStore, dataset_targets
        from dynalab.server.evaluation import score
        from dynalab.tasks.registry import load_builtin

        store = DatasetStore(data_dir / "datasets")
        dataset = type("Row", (), {"sha256": next(store.root.glob("*.jsonl")).stem})
        start = time.perf_counter()
        targets = dataset_targets(store, dataset)
        read = time.perf_counter() - start
        rng = random.Random(1)
        predictions = {uid: {"label": rng.choice(LABELS)} for uid in targets}
        score(load_builtin("nli"), predictions, dict(list(targets.items())[:10]))  # imports scikit-learn
        start = time.perf_counter()
        scores = score(load_builtin("nli"), predictions, targets)
        scored = time.perf_counter() - start
        print(f"dataset_targets: {read:.1f} s; score (accuracy, macro_f1): {scored:.2f} s "
              f"({examples / scored:,.0f} examples/s) -> {scores}")


if __name__ == "__main__":
    main()
