"""Evaluating the example on the server: throughput against calling its handler in-process, upload to scores.

    python benchmarks/bench_evaluation.py [--examples 10000] [--backend sandbox]

On a dataset of ``--examples`` nli examples made by the example's own
generator (examples/nli-bow/make_dataset.py), prints:

- the evaluation's throughput (examples per second, as the server measures
  it: the dataset's examples over the time taken to send them), unbatched
  (up to the task's ``batch_size`` single requests at once) and batched
  (JSON lines, ``batch_size`` examples a request; the example's handler
  wrapped to loop over a batch's lines), each against the baseline of the
  same run: the handler called in-process, in a loop, on the same examples
  (no server, no sandbox, no HTTP), as a ratio;
- the time from ``dynalab-cli upload --wait`` to ``evaluated`` for the
  example on the demo's held-out dataset (500 examples), the environment
  cache warm (the integrated test built it);
- the server process's resident memory (its peak while it evaluated).

Goals: batched at least half the in-process rate; upload to evaluated under 15 s.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
EXAMPLE = REPO / "examples" / "nli-bow"

from dynalab.testing.server_process import ServerProcess  # noqa: E402

NAME = "nli-bow"
INIT = ["init", "-n", NAME, "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py",
        "--model-files", "vocab.json,labels.py", "--exclude", "train.py"]
# The batched variant: the same handler, called once per line of a batch's body.
BATCHED_HANDLER = '''"""The example's handler in batched mode: one body of JSON lines, one response line each."""

import json

import handler as single


def handle(data, context):
    if data is None:
        return single.handle(None, context)
    responses = [single.handle([{"body": json.loads(line)}], context)[0] for line in data[0]["body"].splitlines()]
    return ["\\n".join(json.dumps(response) for response in responses)]
'''
BATCHED_INIT = ["init", "-n", NAME, "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "batched_handler.py",
                "--model-files", "handler.py,vocab.json,labels.py", "--exclude", "train.py"]
# Run in a process of its own (the handler changes the working folder and imports torch).
IN_PROCESS = '''
import json, sys, time
from dynalab.isolation import workspace
from dynalab.project import Project
from dynalab.project.config import load_config
from dynalab.project.task_definitions import resolve_task_definition
from dynalab.runtime import loader
from dynalab.runtime.context import context_from_spec
from dynalab.runtime.protocol import load_spec

root, work, dataset = sys.argv[1:4]
project = Project(root)
config = load_config(project, "nli-bow")
spec_path = work + "/spec.json"
workspace.prepare_model(project.root, work + "/model", config)
workspace.write_run_spec(spec_path, "nli-bow", config, resolve_task_definition(project, config), project.root,
                         work + "/model")
spec = load_spec(spec_path)
loader.enter_model_dir(spec, spec_path)
handle = loader.import_handler(spec)
context = context_from_spec(spec)
handle(None, context)
examples = [{k: v for k, v in json.loads(line).items() if k != "label"} for line in open(dataset)]
started = time.perf_counter()
for example in examples:
    context.start_request(headers={"content-type": "application/json"})
    handle([{"body": example}], context)
print(len(examples) / (time.perf_counter() - started))
'''


class Env:
    def __init__(self, workdir, server):
        self.env = {**os.environ, "PYTHONPATH": str(REPO), "DYNALAB_HOME": str(workdir / "home"), "CI": "true",
                    "DYNALAB_API_URL": server.url, "DYNALAB_API_TOKEN": server.add_user("bench@example.org")}

    def cli(self, root, *args):
        result = subprocess.run([sys.executable, "-m", "dynalab.cli", *args], cwd=root, env=self.env,
                                stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"`dynalab-cli {' '.join(args)}` failed ({result.returncode}):\n{result.stdout}{result.stderr}")
        return result.stdout


def project(workdir, label, batched):
    root = workdir / label
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", ".dynalab*"))
    if batched:
        (root / "batched_handler.py").write_text(BATCHED_HANDLER)
    return root


def make_dataset(path, seed, count):
    subprocess.run([sys.executable, "make_dataset.py", str(path), "--seed", str(seed), "--count", str(count)],
                   cwd=EXAMPLE, check=True, capture_output=True)
    return path


class PeakRss:
    """The peak resident memory of process ``pid``, sampled every 0.1 s while the block runs."""

    def __init__(self, pid):
        self.pid, self.peak_kb = pid, 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._done.wait(0.1):
            try:
                self.peak_kb = max(self.peak_kb, rss_kb(self.pid))
            except OSError:  # the process ended
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()


def rss_kb(pid):
    """The resident memory of process ``pid`` now, in KiB."""
    line = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1])


def nli_with_limits(tasks_dir, **limits):
    """The server's nli: the built-in definition with other limits (a task file in the data dir replaces it)."""
    import yaml

    from dynalab.tasks.registry import load_builtin

    tasks_dir.mkdir(parents=True)
    definition = load_builtin("nli")
    definition["limits"] = {**definition.get("limits", {}), **limits}
    (tasks_dir / "nli.yaml").write_text(yaml.safe_dump(definition))


def in_process_rate(root, work, dataset):
    """Examples per second of the example's handler called in a loop in its own process."""
    work.mkdir()
    result = subprocess.run([sys.executable, "-c", IN_PROCESS, str(root), str(work), str(dataset)],
                            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"the in-process baseline failed:\n{result.stderr}")
    return float(result.stdout.split()[-1])


def throughput(status, dataset):
    return next(d["examples_per_second"] for d in status["datasets"] if d["name"] == dataset)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--backend", default="sandbox", choices=("sandbox", "docker"))
    parser.add_argument("--batch-size", type=int, help="the nli task's limits.batch_size on the server "
                        "(default: the task's own, 8)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dynalab-bench-evaluation-") as scratch:
        workdir = Path(scratch)
        large = make_dataset(workdir / "large.jsonl", seed=7, count=args.examples)
        heldout = make_dataset(workdir / "heldout.jsonl", seed=2, count=500)
        single, batched = project(workdir, "single", False), project(workdir, "batched", True)

        if args.batch_size:
            nli_with_limits(workdir / "data" / "tasks", batch_size=args.batch_size)
        with ServerProcess(workdir / "data", extra_args=("--backend", args.backend)) as server:
            env = Env(workdir, server)
            for root, init in ((single, INIT), (batched, BATCHED_INIT)):
                env.cli(root, *init)
                if root == batched:  # init has no flag for it: the config is the user's to edit
                    config = root / ".dynalab" / NAME / "config.yaml"
                    config.write_text(config.read_text().replace("batched: false", "batched: true"))
                env.cli(root, "test", "-n", NAME, "--backend", args.backend)  # warms the environment cache
            baseline = in_process_rate(single, workdir / "baseline", large)
            server.cli("add-dataset", "--task", "nli", "--name", "heldout", str(heldout))
            idle_rss = rss_kb(server.pid) / 1024

            started = time.perf_counter()
            env.cli(single, "upload", "-n", NAME, "--no-progress", "--wait", "--timeout", "900")
            upload_to_evaluated = time.perf_counter() - started

            with PeakRss(server.pid) as rss:
                added = server.cli("add-dataset", "--task", "nli", "--name", "large", str(large))
                if added.returncode != 0:
                    sys.exit(added.stderr)
                unbatched = json.loads(env.cli(single, "status", "-n", NAME, "--wait", "--json", "--timeout", "1800"))
                env.cli(batched, "upload", "-n", NAME, "--no-progress", "--wait", "--timeout", "1800")
                batched_status = json.loads(env.cli(batched, "status", "-n", NAME, "--json"))

    unbatched_rate, batched_rate = throughput(unbatched, "large"), throughput(batched_status, "large")
    print(f"dataset: {args.examples} nli examples (examples/nli-bow/make_dataset.py), backend {args.backend}, "
          f"batch_size {args.batch_size or 'the task default (8)'}")
    print(f"in-process handler calls (baseline): {baseline:8.0f} examples/s")
    print(f"evaluation, unbatched:               {unbatched_rate:8.0f} examples/s  "
          f"({unbatched_rate / baseline:.2f} x in-process)")
    print(f"evaluation, batched:                 {batched_rate:8.0f} examples/s  "
          f"({batched_rate / baseline:.2f} x in-process; goal >= 0.5)")
    print(f"upload --wait to evaluated (500 examples, warm environment cache): {upload_to_evaluated:.1f} s (goal < 15 s)")
    print(f"server RSS: {idle_rss:.0f} MB idle, {rss.peak_kb / 1024:.0f} MB peak during the evaluations")


if __name__ == "__main__":
    main()
