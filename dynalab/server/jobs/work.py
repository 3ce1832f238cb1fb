"""The job function: ``run_job(ticket, source, report, backend)`` deploys a model, or evaluates it on one dataset.

Both kinds of job start the same way: the stored archive is checked again
as the upload intake checks it (never trusting what is on disk) and
unpacked into a scratch dir of its own, its config read, and the model
served confined within its task's limits (``dynalab.isolation.serving``,
the code ``dynalab-cli test`` uses) until it answers as ready.

- A deploy job (``ticket.dataset_id`` is None) then sends the task's mock
  inputs and checks every response against the task's contract, as the
  integrated test does: ``deployed()``.
- An evaluation job sends every input of its dataset (batched JSON lines,
  ``batch_size`` examples a request, when the config says ``batched``; else
  up to ``batch_size`` single requests at once) and checks each response:
  ``predictions({uid: response}, examples per second, peak memory)``, each
  response cut to the task's target fields. The server's side scores them:
  gold targets never come here.

What the model does wrong ends the job with ``failed(class, reason, hint)``
and the evidence in the job's log; what goes wrong on the server's side
raises, and the executor tries the job again. The scratch dir and every
process of the model are gone when the function returns, however it ends.
"""

import collections
import concurrent.futures
import itertools
import json
import shutil
import tempfile
import time
from contextlib import closing, contextmanager
from pathlib import Path

from dynalab.runtime import checks
from dynalab.server.jobs.protocol import LeaseLost

HEARTBEAT_SECONDS = 10.0  # during the sending too: a lost lease stops the job at once
SCRATCH_LABEL = "org.dynalab.scratch"  # on a job's container: the scratch folder of the worker that runs it
BATCHES_IN_FLIGHT = 2  # the model computes a batch while the answers to the one before are checked


class ModelFault(Exception):
    """The model failed in a way this module finds itself (a bad archive, a bad response)."""

    def __init__(self, failure_class, reason, hint=None):
        super().__init__(reason)
        self.failure_class, self.reason, self.hint = failure_class, reason, hint


def run_job(ticket, source, report, backend):
    """Deploy the model of ``ticket`` or evaluate it on its dataset (see the module's docstring)."""
    from dynalab.isolation.serving import ModelFailed

    if ticket.is_deploy:
        report.deploying()
    else:
        report.evaluating()
    log = ReportLog(report)
    try:
        with scratch_dir(source.scratch_dir(), ticket) as scratch:
            outcome = _deploy(source, log, scratch, backend) if ticket.is_deploy else \
                _evaluate(source, report, log, scratch, backend)
    except ModelFailed as failed:
        failure = failed.failure
        report.failed(failure.failure_class, _one_line(failure.reason), failure.hint)
        return
    except ModelFault as fault:
        report.failed(fault.failure_class, _one_line(fault.reason), fault.hint)
        return
    if ticket.is_deploy:
        report.deployed()
    else:
        report.predictions(*outcome)


def _deploy(source, log, scratch, backend):
    """Serve the model and check its answers to the task's mock inputs."""
    from dynalab.tasks.task_io import TaskIO

    with _served(source, log, scratch, backend) as (model, config, definition, limits):
        examples = TaskIO.from_definition(definition).mock_datapoints
        log.write(f"checking the answers to the task's {len(examples)} mock inputs\n")
        _Sender(model, config, definition, limits, log).send(examples)
        log.write("the model answered every mock input as the task's contract asks: deployed\n")


def _evaluate(source, report, log, scratch, backend):
    """Serve the model, send the dataset's inputs; ``(responses, examples_per_second, peak_memory_mb)``."""
    examples = source.dataset_inputs()
    with _served(source, log, scratch, backend) as (model, config, definition, limits):
        sender = _Sender(model, config, definition, limits, log, heartbeat=report.heartbeat)
        log.write(f"sending {len(examples)} examples ("
                  + (f"batches of {sender.batch_size}" if config["batched"] else
                     f"up to {sender.batch_size} requests at once") + ")\n")
        started = time.monotonic()
        responses = sender.send(examples)
        seconds = max(time.monotonic() - started, 1e-9)
        peak = model.peak_memory_mb()
    rate = len(examples) / seconds
    log.write(f"{len(examples)} responses in {seconds:.2f} s ({rate:.1f} examples/s)"
              + (f", peak memory {peak:.0f} MB" if peak is not None else "") + "\n")
    return responses, rate, peak


@contextmanager
def _served(source, log, scratch, backend):
    """The model unpacked and served, ready: ``(model, config, definition, limits)``."""
    from dynalab.isolation.serving import serve
    from dynalab.tasks.limits import limits_of

    definition = source.task_definition()
    root, config = unpack(source.archive_path(), source.model_name(), definition["task"], scratch / "package",
                          source.max_unpacked_bytes())
    limits = limits_of(definition)
    log.write(f"task {definition['task']}: limits " + ", ".join(f"{key} {value}" for key, value in limits.items())
              + "\n")
    with serve(backend, root, config, definition, limits, log.line, name=source.model_name(),
               scratch_dir=scratch, labels={SCRATCH_LABEL: str(source.scratch_dir())}) as model:
        model.wait_ready()
        yield model, config, definition, limits


def unpack(archive_path, name, task_code, destination, max_unpacked_bytes):
    """Check the archive as the upload intake does, then unpack it: ``(project root, config)``.

    A refused archive is the model's failure (``build``).
    """
    from dynalab.errors import ConfigError
    from dynalab.isolation.workspace import unpack_archive
    from dynalab.project.config import check_config_text
    from dynalab.project.layout import LEGACY_CONFIG_FILE
    from dynalab.server.intake.archive_check import ArchiveRejected, check_archive

    try:
        summary = check_archive(archive_path, name, task_code, max_unpacked_bytes)
    except ArchiveRejected as refused:
        raise ModelFault("build", f"the stored archive is refused: {refused}",
                         "package the model with `dynalab-cli package` and upload it again") from None
    unpack_archive(archive_path, destination)
    config_path = destination / summary.config_path
    root = config_path.parent.parent.parent  # <root>/.dynalab/<name>/config.yaml
    try:
        config = check_config_text(config_path.read_text(encoding="utf-8"), f"the archive's {summary.config_path}",
                                   name, legacy=summary.config_path.endswith(LEGACY_CONFIG_FILE))
    except ConfigError as error:  # checked at upload: only a changed schema gets here
        raise ModelFault("build", str(error), error.hint) from None
    return root, config


class _Sender:
    """Sends examples to the served model as its config says, and checks every response."""

    def __init__(self, model, config, definition, limits, log, heartbeat=None):
        from dynalab.tasks.task_io import TaskIO

        self.model, self.log, self.heartbeat = model, log, heartbeat
        self.batched = config["batched"]
        self.batch_size = limits["batch_size"]
        self.taskio = TaskIO.from_definition(definition)
        self.targets = self.taskio.target_names
        self._beat_at = time.monotonic()

    def send(self, examples):
        """``{uid: response}`` of every example, each response checked; raises on the first bad one."""
        if self.batched:  # one request a batch; the next one sent while this one's answers are checked
            groups = [examples[start:start + self.batch_size] for start in range(0, len(examples), self.batch_size)]
            answers = self._pipelined(groups, self.model.predict_batch, BATCHES_IN_FLIGHT)
        else:  # batch_size single requests at once
            groups = [[example] for example in examples]
            answers = self._pipelined(groups, lambda group: [self.model.predict(group[0])], self.batch_size)
        responses = {}
        with closing(answers):
            for group, answered in answers:
                for example, response in zip(group, answered):
                    checked, problems = checks.judge(response, example, self.taskio)
                    if problems:
                        raise self._bad_response(example, response, problems)
                    # What scoring reads, and no more: the signature, the probabilities... are checked and dropped.
                    responses[example["uid"]] = {name: checked[name] for name in self.targets if name in checked}
                self._beat()
        return responses

    def _pipelined(self, groups, call, in_flight):
        """``(group, call(group))`` for each group in order, ``in_flight`` calls running at once (a few more queued)."""
        pool = concurrent.futures.ThreadPoolExecutor(in_flight, thread_name_prefix="dynalab-request")
        pending = iter(groups)
        flying = collections.deque((group, pool.submit(call, group)) for group in itertools.islice(pending, in_flight * 2))
        try:
            while flying:
                group, future = flying.popleft()
                with self._failing_on(group):
                    answered = future.result()
                flying.extend((nxt, pool.submit(call, nxt)) for nxt in itertools.islice(pending, 1))
                yield group, answered
        finally:
            # No waiting for requests still in flight: once the model is stopped they end at once.
            pool.shutdown(wait=False, cancel_futures=True)

    @contextmanager
    def _failing_on(self, examples):
        """A failure of the model's in the block names the example(s) it was answering, and logs them."""
        from dynalab.isolation.serving import ModelFailed

        try:
            yield
        except ModelFailed as failed:
            failure = failed.failure
            which = f"example {examples[0].get('uid')!r}" if len(examples) == 1 else \
                f"the batch of examples {examples[0].get('uid')!r} to {examples[-1].get('uid')!r}"
            for example in examples[:8]:
                self.log.write(f"  while answering: {_shown(example)}\n")
            raise ModelFault(failure.failure_class, f"{which}: {failure.reason}", failure.hint) from None

    def _beat(self):
        if self.heartbeat and time.monotonic() - self._beat_at >= HEARTBEAT_SECONDS:
            self._beat_at = time.monotonic()
            self.heartbeat()

    def _bad_response(self, example, response, problems):
        first = problems[0]
        self.log.write(
            "a response breaks the task's contract:\n"
            f"  example:  {_shown(example)}\n"
            f"  response: {_shown(response)}\n"
            + "".join(f"  failed check: {p.field}: expected {p.expected}, got {p.got}"
                      + (f" ({p.hint})" if p.hint else "") + "\n" for p in problems))
        return ModelFault(
            "bad_response",
            f"the response to example {example.get('uid')!r} is invalid: {first.field}: expected {first.expected}, "
            f"got {first.got}",
            first.hint or "make the handler's response match the task's output format "
                          "(`dynalab-cli predict` checks a response of your own example)")


def _shown(value, most=2000):
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= most else text[:most] + f"... ({len(text)} characters)"


def _one_line(text):
    return " ".join(str(text).split()) or "no reason given"


@contextmanager
def scratch_dir(root, ticket):
    """A folder of this job's own under ``root``, removed with all it holds when the block ends."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=f"job-{ticket.job_id}-{ticket.attempt}-", dir=root))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def remove_leftover_containers(scratch_root):
    """Remove the containers of jobs a killed worker of ``scratch_root`` left (they do not die with it,
    as the sandbox's processes do); returns how many."""
    from dynalab.isolation.docker.backend import docker_client

    client = docker_client()
    leftovers = client.containers.list(all=True, filters={"label": f"{SCRATCH_LABEL}={scratch_root}"})
    for container in leftovers:
        container.remove(force=True)
    return len(leftovers)


class ReportLog:
    """A text stream into the job's log (``report.log``), for the model's output and this module's lines.

    Written from the threads that read the model's output too: a lost lease is
    not theirs to act on (the job function hears of it at its next report).
    """

    def __init__(self, report):
        self.report = report

    def write(self, text):
        if text:
            try:
                self.report.log(text)
            except LeaseLost:
                pass
        return len(text)

    def line(self, text):
        """One line of the served model's (what ``serve`` logs)."""
        self.write(text if text.endswith("\n") else text + "\n")

    def flush(self):
        pass
