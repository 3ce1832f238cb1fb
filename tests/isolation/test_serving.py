"""serve(): fixture projects served confined for evaluation, for real, on the sandbox and on Docker.

Each test packages a fixture project as a user would, unpacks the archive as
the server does, serves it and talks to it over the Unix socket.
"""

import os
import re
from contextlib import contextmanager
from pathlib import Path

import pytest

from isolation_support import NAME, Model
from dynalab.isolation.serving import ModelFailed, serve
from dynalab.isolation.workspace import unpack_archive
from dynalab.tasks.limits import limits_of
from dynalab.tasks.task_io import TaskIO

BACKENDS = ["sandbox", pytest.param("docker", marks=pytest.mark.docker)]


@pytest.fixture(params=BACKENDS)
def backend(request):
    # A reachable engine and the local base image, or bubblewrap: else skipped (failed in CI).
    request.getfixturevalue("docker" if request.param == "docker" else "bwrap")
    return request.param


class Served:
    """What a test served: the log's lines and the scratch folder's parent."""

    def __init__(self, scratch):
        self.lines = []
        self.scratch = scratch

    @property
    def log(self):
        return "\n".join(self.lines)


@pytest.fixture
def served(make_project, tmp_path, request):
    """``served(case, backend, files=None, **limits)``: a context manager serving fixture project ``case``
    (with ``files``, {relative path: text}, written into it first) under the task's ``limits``."""
    runs = []

    @contextmanager
    def start(case, backend, files=None, **limits):
        if backend == "sandbox":
            request.getfixturevalue("bwrap")  # serve() never runs a model unconfined
        case_model = Model(make_project(case, name=f"project-{len(runs)}"), case, limits=limits)
        for relative, text in (files or {}).items():
            (case_model.root / relative).write_text(text)
        package = tmp_path / f"package-{len(runs)}"
        unpack_archive(case_model.package().path, package)
        run = Served(tmp_path / f"scratch-{len(runs)}")
        run.scratch.mkdir()
        runs.append(run)
        with serve(backend, package, case_model.config, case_model.definition, limits_of(case_model.definition),
                   run.lines.append, name=NAME, scratch_dir=run.scratch) as served_model:
            run.model = served_model
            yield served_model, run

    yield start
    for run in runs:  # torn down, whatever happened
        assert list(run.scratch.iterdir()) == [], f"scratch left behind: {list(run.scratch.iterdir())}"
    assert not _our_cgroups(), f"memory cgroups left behind: {_our_cgroups()}"


def _our_cgroups():
    from dynalab.isolation.sandbox.cgroups import CGROUP_ROOT, PREFIX, _own_cgroup

    left = []
    for controller in ("memory", "cpu"):
        own = _own_cgroup(controller)
        parent = CGROUP_ROOT / controller / own if own is not None else None
        if parent is not None and parent.is_dir():
            left += [path for path in parent.iterdir() if path.name.startswith(f"{PREFIX}{os.getpid()}-")]
    return left


def mock_examples(definition):
    return TaskIO.from_definition(definition).mock_datapoints


def test_a_served_model_answers_within_the_contract_and_its_peak_memory_is_known(served, backend):
    with served("example", backend) as (model, run):
        model.wait_ready()
        taskio = TaskIO.from_definition(model.definition)
        for example in mock_examples(model.definition):
            response = model.predict(example)
            assert list(taskio.check_response(response, example)) == [], response
        peak = model.peak_memory_mb()
        assert model.failure() is None
    assert 50 < peak < 16 * 1024, peak  # torch and the model are loaded; far below the task's 16g
    assert "READY" in run.log


def test_a_batched_handler_answers_a_batch_in_order(served):
    with served("batched-nli", "sandbox") as (model, _):
        model.wait_ready()
        examples = mock_examples(model.definition)[:5]
        responses = model.predict_batch(examples)
    assert [response["id"] for response in responses] == [example["uid"] for example in examples]


def test_a_handler_that_crashes_on_one_example_fails_as_crash(served):
    with served("crashes-on-one-example", "sandbox") as (model, run):
        model.wait_ready()
        good, bad = mock_examples(model.definition)[:2]
        model.predict(good)
        with pytest.raises(ModelFailed) as failed:
            model.predict({**bad, "hypothesis": "boom"})
    failure = failed.value.failure
    assert failure.failure_class == "crash"
    assert "ZeroDivisionError" in failure.reason and "\n" not in failure.reason
    assert model.failure() == failure
    assert "FAILED (crash)" in run.log


def test_a_request_past_the_request_timeout_fails_as_timeout(served):
    with served("slow-handler", "sandbox", request_timeout=2) as (model, _):
        model.wait_ready()
        with pytest.raises(ModelFailed) as failed:
            model.predict(mock_examples(model.definition)[0])
        with pytest.raises(ModelFailed):  # a failed model answers nothing more
            model.predict(mock_examples(model.definition)[1])
    failure = failed.value.failure
    assert failure.failure_class == "timeout" and "request_timeout of 2s" in failure.reason
    assert "request_timeout" in failure.hint


def test_a_model_loading_past_the_load_timeout_fails_as_timeout(served):
    with served("slow-load", "sandbox", load_timeout=3) as (model, _):
        with pytest.raises(ModelFailed) as failed:
            model.wait_ready()
    failure = failed.value.failure
    assert failure.failure_class == "timeout" and "load_timeout of 3s" in failure.reason


def test_an_undeclared_import_fails_as_load_with_the_integrated_tests_hint(served, backend):
    with served("undeclared-import", backend) as (model, _):
        with pytest.raises(ModelFailed) as failed:
            model.wait_ready()
    failure = failed.value.failure
    assert failure.failure_class == "load"
    assert "does not install" in failure.reason and "requirements.txt" in failure.hint


def test_memory_past_the_tasks_limit_fails_as_memory(served, backend):
    with served("memory-hog", backend, memory="300m") as (model, _):
        with pytest.raises(ModelFailed) as failed:
            model.wait_ready()
    failure = failed.value.failure
    assert failure.failure_class == "memory" and "300m" in failure.reason
    assert "limits.memory" in failure.hint


@pytest.mark.parametrize("target", ["the server's database", "another upload", "/etc/shadow", "a file in /root"])
def test_a_handler_cannot_read_outside_its_package(served, backend, tmp_path, target):
    if target == "/etc/shadow":
        where = Path(target)
    elif target == "a file in /root":
        where = Path("/root/.dynalab-test-secret")
        where.write_text("the host's\n")
    else:
        where = tmp_path / ("data-dir/dynalab.sqlite3" if target == "the server's database" else "uploads/7/model.pt")
        where.parent.mkdir(parents=True)
        where.write_text("not for the model\n")
    try:
        with served("reads-outside-its-package", backend, files={"outside_paths.txt": f"{where}\n"}) as (model, _):
            with pytest.raises(ModelFailed) as failed:
                model.wait_ready()
    finally:
        if target == "a file in /root":
            where.unlink()
    failure = failed.value.failure
    assert failure.failure_class == "load"
    assert f"the handler reads {where}, which is outside the package" in failure.reason
    assert "ROOTPATH" in failure.hint


def test_the_temporary_folder_counts_in_the_memory_limit_not_on_this_machines_disk(served, backend):
    with served("fills-its-temporary-folder", backend, memory="300m") as (model, _):
        with pytest.raises(ModelFailed) as failed:
            model.wait_ready()  # 1 GB written to /tmp: a tmpfs within the 300m, never this machine's disk
    assert failed.value.failure.failure_class == "memory", failed.value.failure


def test_the_model_gets_the_tasks_cpus(served, backend):
    with served("burns-cpu", backend, cpus=0.5) as (model, run):
        model.wait_ready()  # two processes spin for two seconds while it loads
    used = float(re.search(r"cpus used: ([0-9.]+)", run.log).group(1))
    assert 0.2 < used < 0.8, used  # half a CPU, though two are busy


def test_an_exception_in_the_caller_still_tears_everything_down(served, backend):
    with pytest.raises(RuntimeError, match="the caller's own error"):
        with served("example", backend) as (model, _):
            model.wait_ready()
            raise RuntimeError("the caller's own error")


def test_a_requirement_that_cannot_be_installed_fails_as_build(served):
    with pytest.raises(ModelFailed) as failed:
        with served("declared-requirement", "sandbox",
                    files={"requirements.txt": "dynalab-no-such-package-4f9c2e==1.0\n"}):
            pass
    failure = failed.value.failure
    assert failure.failure_class == "build" and "requirements.txt" in failure.reason


def test_a_second_model_with_the_same_requirements_reuses_the_environment(served, backend):
    with served("declared-requirement", backend) as (model, first):
        model.wait_ready()
    edited = (Path(__file__).parent.parent / "projects" / "declared-requirement" / "handler.py").read_text() + "# another model\n"
    with served("declared-requirement", backend, files={"handler.py": edited}) as (model, second):
        model.wait_ready()
    assert "Building the sandbox's dependency environment" not in second.log
    if backend == "docker":
        installs = [line for line in second.log.splitlines() if "pip install" in line and "requirements.txt" in line]
        assert installs and "Using cache" in second.log.split(installs[0], 1)[1].split("Step ", 1)[0]
