"""The one small runner: the steps of one command, in order, each needed step once.

For each step asked for, in the order given: the model is loaded (once per
command), the step's ``prepare`` hook checks what must hold before any work,
the steps it needs run first (each once per command, however many steps need
it), then, for a cached step, its fingerprint is read: a recorded pass with the
same fingerprint makes it ``skipped`` (said once), anything else runs its
action, recorded as passed or failed in state.yaml. The first failure stops
the command: the steps after it do not run.
"""

import time
from types import SimpleNamespace

from dynalab.errors import Interrupted
from dynalab.steps import inputs
from dynalab.steps.cache.fingerprint import fingerprint
from dynalab.steps.cache.state import now_iso
from dynalab.steps.model import Model
from dynalab.steps.results import FAILED, PASSED, SKIPPED, Outcome, Result
from dynalab.steps.step import load


class StepRun:
    """What an action gets: its step, model, flags, what ``prepare`` found, and a way to speak."""

    def __init__(self, runner, step, model, flags):
        self.runner = runner
        self.step = step
        self.model = model
        self.flags = SimpleNamespace(**flags)
        self.project = runner.project
        self.out = runner.out
        self.prepared = None

    def result(self, step_name):
        """The result of step ``step_name`` for this model, earlier in this command."""
        return self.runner.result_of(step_name, self.model.name if self.model else None)


class Runner:
    """Runs the steps of one command against ``project``; ``out`` says the human lines."""

    def __init__(self, project, steps, out=print):
        self.project = project
        self.steps = {step.name: step for step in steps}
        self.out = out
        self.models = {}
        self.done = {}  # (step, model, identity) -> Result: each step runs once per command

    def run(self, requests, on_result=None):
        """Run ``requests``, [(Step, flags)] in order; ``on_result(result, flags)`` hears each one.

        Returns the results; after the first failure, raises its error (the steps after it do not run).
        """
        results = []
        for step, flags in requests:
            result = self.execute(step, flags)
            results.append(result)
            if on_result:
                on_result(result, flags)
            if result.failed:
                raise result.error
        return results

    def model(self, name):
        """Model ``name`` (None: the only one), loaded once per command."""
        key = self.project.resolve_model_name(name)
        if key not in self.models:
            self.models[key] = Model(self.project, key)
        return self.models[key]

    def forget_model(self, name):
        """Load model ``name`` afresh when next asked for (its config was just written)."""
        self.models.pop(name, None)

    def result_of(self, step_name, model_name):
        for (name, model, _), result in reversed(list(self.done.items())):
            if name == step_name and model == model_name:
                return result
        return None

    def execute(self, step, flags):
        """The Result of ``step`` with ``flags`` (defaults filled in), running it unless it ran already."""
        flags = {**defaults(step), **flags}
        started, clock = now_iso(), time.monotonic()
        result = Result(step.name, model=flags.get("name"), started_at=started)
        try:
            model = self.model(flags.get("name")) if step.model else None
            result.model = model.name if model else flags.get("name")
            key = (step.name, result.model, tuple(flags.get(name) for name in step.identity))
            if key in self.done:
                return self.done[key]
            run = StepRun(self, step, model, flags)
            if step.prepare:
                run.prepared = load(step.prepare)(run)
            for need in step.needs_for(flags):
                handed = {name: flags[name] for name in need.passes}
                needed = self.execute(self.steps[need.step], {**handed, "name": result.model} if step.model else handed)
                result.needed.update(needed.needed)  # what the needed step needed, first
                result.needed[need.step] = needed.status
                if needed.failed:
                    raise needed.error
            self._run(run, result)
            self.done[key] = result
        except Exception as error:  # a DynalabError, or a bug: either way the step failed, and says so
            result.status, result.error = FAILED, error
            result.details = dict(getattr(error, "details", None) or result.details)
        except KeyboardInterrupt:
            result.status, result.error = FAILED, Interrupted("interrupted")
        result.seconds = time.monotonic() - clock
        return result

    def _run(self, run, result):
        """Skip ``run`` when a recorded pass has its fingerprint, else run its action (recorded if cached)."""
        step, model = run.step, run.model
        if not step.cached:
            self._take(result, load(step.action)(run))
            return
        result.fingerprint = fingerprint(inputs.read(step.covers, run))
        record = model.state.passed(step.name, result.fingerprint)
        if record and all(field in record for field in step.recorded) and not getattr(run.flags, "force", False):
            line, details = load(step.skipped)(run, record)
            self.out(line)
            result.status, result.passed_at, result.details = SKIPPED, record.get("finished_at"), details
            return
        with model.state.running(step.name, result.fingerprint) as kept:
            outcome = load(step.action)(run) or Outcome()
            kept.update(outcome.record)
        self._take(result, outcome)
        result.passed_at = model.state.steps[step.name]["finished_at"]

    @staticmethod
    def _take(result, outcome):
        outcome = outcome or Outcome()
        result.status = SKIPPED if outcome.skipped else PASSED
        result.details, result.value = dict(outcome.details), outcome.value


def defaults(step):
    """{flag: default} of every flag ``step`` takes, ``name`` and ``json`` included."""
    from dynalab.steps.declarations import flags_of

    return {flag.name: flag.default for flag in flags_of(step)}
