"""This repository's own tasks: `invoke --list`.

    invoke test     the test suite (as CI runs it, minus the setup)
    invoke demo     the whole workflow on the bundled example, against a local server
    invoke bench    the benchmarks, printed as figures
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from invoke import task

REPO = Path(__file__).resolve().parent
EXAMPLE = REPO / "examples" / "nli-bow"


@task(help={"args": "Extra pytest arguments, e.g. '-k upload -x'."})
def test(c, args=""):
    """Run the test suite."""
    c.run(f"{sys.executable} -m pytest {args}", pty=False)


@task(help={"backend": "Integrated test backend: sandbox (default) or docker.",
            "keep": "Keep the temporary folder (server data and project copy) for a look."})
def demo(c, backend="sandbox", keep=False):
    """Take the example from init (and one prediction) to upload, its scores and the leaderboard, against a
    self-hosted server on 127.0.0.1 that holds a held-out dataset made by the example's own generator."""
    from dynalab.testing.server_process import ServerProcess

    workdir = Path(tempfile.mkdtemp(prefix="dynalab-demo-"))
    project = workdir / "nli-bow"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", ".dynalab*"))
    env = {**os.environ, "DYNALAB_HOME": str(workdir / "home"), "CI": "true"}
    try:
        with ServerProcess(workdir / "server-data", extra_args=("--backend", backend)) as server:
            print(f"== Evaluation server running at {server.url} (data in {server.data_dir})")
            heldout = workdir / "nli-heldout.jsonl"
            print("\n== A held-out nli dataset, made by the example's own generator (not its training data)")
            subprocess.run([sys.executable, "make_dataset.py", str(heldout), "--seed", "2", "--count", "500"],
                           cwd=project, check=True)
            added = server.cli("add-dataset", "--task", "nli", "--name", "nli-heldout", str(heldout))
            if added.returncode != 0:
                sys.exit(f"demo failed at add-dataset: {added.stderr.strip()}")
            print(added.stdout.strip())
            token = server.add_user("researcher@example.org")
            env["DYNALAB_API_URL"] = server.url
            steps = [
                ["login", "--token-stdin"],
                ["init", "-n", "nli-bow", "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py",
                 "--model-files", "vocab.json,labels.py", "--exclude", "train.py"],
                ["predict", "-n", "nli-bow", "--input", '{"context": "A man is sleeping on the couch.", '
                 '"hypothesis": "A person rests."}'],
                ["test", "--local", "-n", "nli-bow"],
                ["test", "-n", "nli-bow", "--backend", backend],
                ["upload", "-n", "nli-bow", "--wait", "--timeout", "900"],
                ["publish", "-n", "nli-bow"],
            ]
            for args in steps:
                print(f"\n== dynalab-cli {' '.join(args)}", flush=True)
                result = subprocess.run([sys.executable, "-m", "dynalab.cli", *args], cwd=project, env=env,
                                        input=token + "\n" if "--token-stdin" in args else None, text=True)
                if result.returncode != 0:
                    sys.exit(f"demo failed at `dynalab-cli {' '.join(args)}` (exit code {result.returncode})")
            print("\n== dynalab-cli status -n nli-bow --json", flush=True)
            status = subprocess.run([sys.executable, "-m", "dynalab.cli", "status", "-n", "nli-bow", "--json"],
                                    cwd=project, env=env, text=True, capture_output=True)
            if status.returncode != 0:
                sys.exit(f"demo failed at `dynalab-cli status -n nli-bow` (exit code {status.returncode})")
            evaluated = json.loads(status.stdout)
            with urllib.request.urlopen(f"{server.url}/tasks/nli/leaderboard", timeout=30) as answer:
                board = json.load(answer)
            entry = next(model for model in board["models"] if model["model_id"] == evaluated["model_id"])
            print("\n== Demo passed: the example went from init to upload, was deployed, evaluated and published."
                  " Scores:")
            for dataset in evaluated["datasets"]:
                scores = ", ".join(f"{name} {value:.4f}" for name, value in dataset["metrics"].items())
                print(f"  {dataset['name']}: {scores} ({dataset['examples_per_second']:.0f} examples/s, "
                      f"peak memory {dataset['peak_memory_mb']:.0f} MB)")
            print(f"  leaderboard of nli: rank {entry['rank']} of {len(board['models'])}, "
                  f"Dynascore {entry['dynascore']:.4f}")
    finally:
        if keep:
            print(f"(kept {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@task
def bench(c):
    """Run the benchmarks and print their figures."""
    for script in sorted((REPO / "benchmarks").glob("bench_*.py")):
        print(f"\n== {script.name}", flush=True)
        c.run(f"{sys.executable} {script}", pty=False)
