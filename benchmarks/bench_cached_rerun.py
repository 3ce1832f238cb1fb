"""A cached `dynalab-cli test --local`: how long a rerun with nothing changed takes, printed as figures.

    python benchmarks/bench_cached_rerun.py [--runs 15] [--against DIR]

The baseline in the same run is the program starting and doing nothing
(`dynalab-cli --version`): the ratio says what the cached step costs beyond
Python and invoke. ``--against DIR`` also times the same rerun with the
Dynalab checkout in DIR (e.g. an earlier commit, from `git archive`), on its
own copy of the project, interleaved run by run, so both meet the same load.

Target: a cached rerun under 1 s, and no slower than the checkout it replaces.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "nli-bow"
NAME = "bench"
INIT = ["init", "-n", NAME, "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py",
        "--model-files", "vocab.json,labels.py", "--exclude", "train.py"]


def cli(checkout, root, home, *args):
    env = {**os.environ, "PYTHONPATH": str(checkout), "DYNALAB_HOME": str(home), "CI": "true"}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dynalab.cli", *args], cwd=root, env=env, check=True,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def prepared(checkout, workdir, label):
    """A copy of the example, initialised and locally tested once with ``checkout``: its reruns are cached."""
    root = workdir / label
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".dynalab*"))
    cli(checkout, root, workdir / "home", *INIT)
    cli(checkout, root, workdir / "home", "test", "--local", "-n", NAME)
    return root


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--against", type=Path, help="another Dynalab checkout to time the same rerun with")
    args = parser.parse_args()
    checkouts = {"this checkout": REPO} | ({f"{args.against}": args.against.resolve()} if args.against else {})
    with tempfile.TemporaryDirectory(prefix="dynalab-bench-rerun-") as scratch:
        workdir = Path(scratch)
        roots = {label: prepared(checkout, workdir, f"project-{index}")
                 for index, (label, checkout) in enumerate(checkouts.items())}
        times = {label: [] for label in checkouts}
        startup = []
        for _ in range(args.runs):  # interleaved: every run of one meets the same load as the others'
            startup.append(cli(REPO, roots["this checkout"], workdir / "home", "--version"))
            for label, checkout in checkouts.items():
                times[label].append(cli(checkout, roots[label], workdir / "home", "test", "--local", "-n", NAME))
    base = statistics.median(startup)
    print(f"dynalab-cli --version (the baseline): median {base:.3f}s over {args.runs} runs")
    for label, seconds in times.items():
        median = statistics.median(seconds)
        print(f"cached `dynalab-cli test --local` ({label}): median {median:.3f}s, min {min(seconds):.3f}s "
              f"({median / base:.2f}x the baseline)")
    if args.against:
        ours, theirs = (statistics.median(seconds) for seconds in times.values())
        print(f"this checkout / {args.against}: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
