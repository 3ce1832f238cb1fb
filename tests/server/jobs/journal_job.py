"""A job function for the tests of the queue and the executor: real work through the real source and report.

``JournalJob(folder)`` is called as the server calls ``run_job``. It opens
the archive the source names (the uploaded .tar.gz) and checks it holds the
model's config, writes a line per event to ``folder/journal`` (so a test,
or a test in another process, sees what ran: which job, which attempt), and
reports through the report it is given. What it does beyond that depends on
the model's name, one behaviour per name:

    (any other)  deploys; evaluates by answering every example with the label of its
                 hypothesis's first letter's place in the labels (a deterministic "model")
    fails        reports a load failure of the model's own
    raises       raises an error of the server's side (an infrastructure failure)
    no-result    returns without a result
    waits        first attempt only: waits (heartbeating) for ``folder/release``, then deploys
    stalls       first attempt only: waits for ``folder/release`` without a heartbeat, then deploys
    waits-evaluating  first attempt of each evaluation only: waits (heartbeating) for ``folder/release``

The ``waiting`` entries name the process (``pid``) and its parent (``ppid``), for the tests that kill one.
"""

import json
import os
import tarfile
import time
from pathlib import Path


class JournalJob:
    def __init__(self, folder):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def journal(self):
        return self.folder / "journal"

    def entries(self):
        """The journal's entries, oldest first: dicts with ``event`` and the ticket's fields."""
        if not self.journal.exists():
            return []
        return [json.loads(line) for line in self.journal.read_text().splitlines()]

    def release(self):
        (self.folder / "release").touch()

    def write(self, ticket, event, **extra):
        with open(self.journal, "a") as journal:
            journal.write(json.dumps({"event": event, **ticket.as_dict(), **extra}) + "\n")

    def __call__(self, ticket, source, report, backend):
        name = source.model_name()
        self.write(ticket, "start", name=name, backend=backend)
        try:
            self._run(name, ticket, source, report)
        except BaseException as error:
            self.write(ticket, "raised", error=type(error).__name__)
            raise
        self.write(ticket, "end")

    def _run(self, name, ticket, source, report):
        with tarfile.open(source.archive_path(), "r:gz") as archive:
            config = f".dynalab/{name}/config.yaml"
            if config not in archive.getnames():
                report.failed("build", f"the archive has no {config}", "package the model with dynalab-cli")
                return
        if name == "raises":
            raise RuntimeError("the disk went away")
        if name == "no-result":
            return
        if ticket.is_deploy:
            self._deploy(name, ticket, report)
        else:
            self._evaluate(name, ticket, source, report)

    def _wait(self, name, ticket, report):
        self.write(ticket, "waiting", pid=os.getpid(), ppid=os.getppid())
        while not (self.folder / "release").exists():
            if name != "stalls":
                report.heartbeat()
            time.sleep(0.05)

    def _deploy(self, name, ticket, report):
        report.deploying()
        report.log(f"deploying {name}\n")
        if name == "fails":
            report.failed("load", "ModuleNotFoundError: No module named 'transformers'",
                          "list transformers in the config's requirements")
            return
        if name in ("waits", "stalls") and ticket.attempt == 1:
            self._wait(name, ticket, report)
        report.deployed()

    def _evaluate(self, name, ticket, source, report):
        report.evaluating()
        if name == "waits-evaluating" and ticket.attempt == 1:
            self._wait(name, ticket, report)
        labels = next(field["labels"] for field in source.task_definition()["config"]["input"]
                      if field.get("type") == "multiclass")
        started = time.monotonic()
        responses = {}
        for example in source.dataset_inputs():
            if set(example) & {"label", "labels", "answer"}:
                raise AssertionError(f"a target reached the job: {example}")
            responses[example["uid"]] = {"id": example["uid"], "label": predict(example, labels)}
        seconds = max(time.monotonic() - started, 1e-9)
        report.predictions(responses, len(responses) / seconds, 1.0)


def predict(example, labels):
    """The "model": the label at the place of the hypothesis's first letter (deterministic)."""
    text = example.get("hypothesis") or example.get("statement") or ""
    return labels[ord(text[:1] or "a") % len(labels)]
