"""What the evaluation server says of an uploaded model, and following it until it is evaluated or failed.

``Watch`` asks ``GET /models/<id>`` (the model's owner only, so with a
bearer token, exchanged once and again when it expires) and reduces the
answer to the object ``status --json`` prints (``summary``): ``model_id``,
``status``, ``failure`` (None, or ``{class, reason, hint}``) and
``datasets`` (``{name, status, metrics, worker}``, ``metrics`` mapping names to
numbers, ``worker`` naming the worker that evaluated it) are a contract for CI scripts; more fields may be added. ``follow``
polls until the model is ``evaluated`` or ``failed`` (``FINAL``), telling
its caller of every change, within an optional time limit.
"""

import time

from dynalab.client import api
from dynalab.client.session import TIMEOUT
from dynalab.errors import AuthError, EvaluationFailed, EvaluationTimedOut

FINAL = ("evaluated", "failed")
POLL_SECONDS = (0.5, 1.0, 2.0, 3.0)  # quick at first (a deploy of a cached environment takes seconds), then calmer
DATASET_FIELDS = ("name", "access", "status", "metrics", "examples_per_second", "peak_memory_mb", "worker")


def summary(body):
    """The ``status --json`` object of a ``GET /models/<id>`` answer."""
    failure = body.get("failure")
    return {
        "model_id": body.get("model_id"),
        "name": body.get("name"),
        "task_code": body.get("task_code"),
        "status": body.get("status"),
        "failure": {key: failure.get(key) for key in ("class", "reason", "hint")} if failure else None,
        "datasets": [{key: dataset.get(key) for key in DATASET_FIELDS} | {"metrics": dataset.get("metrics") or {}}
                     for dataset in body.get("datasets") or []],
        "metrics": body.get("metrics") or {},
        "uploaded_at": body.get("uploaded_at"),
    }


class Watch:
    """The model ``model_id`` on the server at ``url``, asked about with ``api_token``."""

    def __init__(self, url, api_token, model_id, session):
        self.url, self.api_token, self.model_id, self.session = url, api_token, model_id, session
        self._bearer = None

    def status(self):
        """The model's ``summary`` now."""
        return summary(api.json_body(self._get(f"/models/{self.model_id}"), self.url))

    def log(self):
        """The logs of the model's jobs (deployment, then each evaluation), as text."""
        return self._get(f"/models/{self.model_id}/log").text

    def follow(self, timeout=None, on_change=None, poll=POLL_SECONDS, clock=time.monotonic, sleep=time.sleep):
        """The model's ``summary`` once it is ``evaluated``; ``on_change(summary)`` hears each new state.

        Raises ``EvaluationFailed`` when it failed, ``EvaluationTimedOut`` when
        ``timeout`` seconds passed first (both carry the last summary as ``details``).
        """
        deadline = None if timeout is None else clock() + timeout
        seen, polls = None, 0
        while True:
            current = self.status()
            if _progress(current) != seen:
                seen = _progress(current)
                if on_change:
                    on_change(current)
            if current["status"] == "failed":
                failure = current["failure"] or {}
                error = EvaluationFailed(
                    f"model {current['name']!r} (id {self.model_id}) failed on {self.url}"
                    f" ({failure.get('class') or 'no class given'}): {failure.get('reason') or 'no reason given'}",
                    hint=failure.get("hint") or f"see its log: dynalab-cli status -n {current['name']} --log")
                error.details = current
                raise error
            if current["status"] == "evaluated":
                return current
            pause = poll[min(polls, len(poll) - 1)]
            polls += 1
            if deadline is not None:
                pause = min(pause, deadline - clock())
            if pause <= 0:
                error = EvaluationTimedOut(
                    f"model {current['name']!r} (id {self.model_id}) is still {current['status']} on {self.url} "
                    f"after {timeout:g} s (--timeout)",
                    hint=f"it goes on on the server: look again with `dynalab-cli status -n {current['name']} "
                         "--wait`, or allow longer with --timeout")
                error.details = current
                raise error
            sleep(pause)

    def _get(self, path):
        for fresh in (False, True):
            if self._bearer is None or fresh:
                self._bearer = api.bearer(self.url, self.api_token, session=self.session)
            response = api.send(self.session, "GET", self.url, path, timeout=TIMEOUT,
                                headers={"Authorization": f"Bearer {self._bearer}"})
            if response.status_code != 401 or fresh:
                return api.check_response(response, self.url)
        raise AuthError(f"the server at {self.url} rejected the API token")  # not reached: the loop returns


def _progress(current):
    """What a change is made of: the model's state and each dataset's."""
    return current["status"], tuple((dataset["name"], dataset["status"]) for dataset in current["datasets"])


def describe(current):
    """Human lines for a ``summary``: the model's state, each dataset's, the failure."""
    lines = [f"Model {current['name']!r} (id {current['model_id']}, task {current['task_code']}): {current['status']}"]
    for dataset in current["datasets"]:
        line = f"  {dataset['name']}: {dataset['status']}"
        if dataset["metrics"]:
            line += "  " + ", ".join(f"{name} {value:.4f}" for name, value in dataset["metrics"].items())
        figures = []
        if dataset.get("examples_per_second") is not None:
            figures.append(f"{dataset['examples_per_second']:.1f} examples/s")
        if dataset.get("peak_memory_mb") is not None:
            figures.append(f"peak memory {dataset['peak_memory_mb']:.0f} MB")
        if dataset.get("worker") and dataset["status"] in ("running", "done"):
            figures.append(f"on worker {dataset['worker']}")
        if figures:
            line += f" ({', '.join(figures)})"
        if dataset.get("access") == "hidden":
            line += " (hidden dataset: no scores shown)"
        lines.append(line)
    if current["metrics"]:
        lines.append("  overall (weighted over scoring datasets): "
                     + ", ".join(f"{name} {value:.4f}" for name, value in current["metrics"].items()))
    if current["failure"]:
        failure = current["failure"]
        lines.append(f"  failed ({failure['class']}): {failure['reason']}")
        if failure.get("hint"):
            lines.append(f"  hint: {failure['hint']}")
    return lines
