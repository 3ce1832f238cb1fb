"""Judge a handler's answer to mock datapoints: the one place both the local runner and the probe use.

A handler returns a list with exactly one response (a dict or a JSON string);
over HTTP the response is the body. Batched mode sends all examples as JSON
lines in one body and expects one string of JSON lines back, one response per
example, in order. Each judge returns ``(response, problems)`` per example;
``problems`` are ``dynalab.tasks.task_io.Problem`` and empty means it passed.
"""

import json

from dynalab.runtime.protocol import Event
from dynalab.tasks.annotations import show
from dynalab.tasks.task_io import RESPONSE, Problem, parse_response


def _problem(expected, got, hint):
    return Problem(RESPONSE, expected, got, hint)


def unwrap(result):
    """``(the single item, None)`` of a handler's result list, else ``(None, Problem)``."""
    if isinstance(result, list) and len(result) == 1:
        return result[0], None
    got = f"a list of {len(result)} items" if isinstance(result, list) else show(result)
    return None, _problem(
        "a list holding exactly one response", got,
        "return [response]: one response per request, as TorchServe expects",
    )


def judge(raw, example, taskio):
    """``(response, problems)`` for one response: a dict, or JSON text/bytes (an HTTP body)."""
    response, problem = parse_response(raw)
    if problem is not None:
        return _shown(raw), [problem]
    return response, list(taskio.check_response(response, example))


def judge_handler_result(result, example, taskio):
    """``(response, problems)`` for what ``handle([{"body": example}], context)`` returned."""
    item, problem = unwrap(result)
    if problem is not None:
        return _shown(result), [problem]
    return judge(item, example, taskio)


def batch_body(examples):
    """The body of a batched request: one JSON line per example."""
    return "\n".join(json.dumps(example, ensure_ascii=False) for example in examples)


def judge_batch(raw, examples, taskio):
    """``[(response, problems)]``, one per example, for the JSON lines in ``raw`` (str or bytes)."""
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", errors="replace")
    if not isinstance(raw, str):
        problem = _problem("one string of JSON lines, one response per example", show(raw),
                           "in batched mode return [\"\\n\".join(json.dumps(r) for r in responses)]")
        return [(None, [problem]) for _ in examples]
    lines = [line for line in raw.splitlines() if line.strip()]
    count_problem = None
    if len(lines) != len(examples):
        count_problem = _problem(
            f"{len(examples)} JSON lines, one per example, in order", f"{len(lines)} lines",
            "return one response line for every example line of the request, in the same order",
        )
    judged = []
    for index, example in enumerate(examples):
        if index < len(lines):
            response, problems = judge(lines[index], example, taskio)
        else:
            response, problems = None, []
        if count_problem is not None:
            problems = [count_problem, *problems]
        judged.append((response, problems))
    return judged


def judge_batch_handler_result(result, examples, taskio):
    """``[(response, problems)]`` per example for what a batched ``handle`` call returned."""
    item, problem = unwrap(result)
    if problem is not None:
        return [(_shown(result), [problem]) for _ in examples]
    return judge_batch(item, examples, taskio)


def _shown(value):
    # What the handler sent, kept for the event; text for anything json cannot carry.
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", errors="replace")
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


class Tally:
    """The passed and failed datapoints of one run, each reported as a ``datapoint`` event.

    ``emit(kind, **fields)`` writes an event; the local runner and the probe
    pass their own.
    """

    def __init__(self, emit):
        self.emit = emit
        self.passed = 0
        self.failed = 0

    def datapoint(self, index, total, example, response, problems, seconds):
        """Count one judged datapoint and report it."""
        if problems:
            self.failed += 1
        else:
            self.passed += 1
        self.emit(
            Event.DATAPOINT, index=index, total=total, input=example, response=response,
            problems=[problem._asdict() for problem in problems], seconds=round(seconds, 3),
        )

    def batch(self, examples, judged, seconds):
        """Count and report every example of one batched call that took ``seconds``;
        ``judged`` is ``[(response, problems)]`` in the examples' order."""
        each = seconds / max(len(examples), 1)
        for index, (example, (response, problems)) in enumerate(zip(examples, judged)):
            self.datapoint(index, len(examples), example, response, problems, each)

    def done(self, total):
        """Report the end of the run (the ``done`` event); returns the exit status: 0 if none failed."""
        self.emit(Event.DONE, passed=self.passed, failed=self.failed, total=total)
        return 0 if self.failed == 0 else 1
