"""Issue 9's acceptance, tried as a new user would: a real server on 127.0.0.1 deploys and evaluates uploads
in the real sandbox, the user follows them with ``dynalab-cli status``.

The example (examples/nli-bow, a torch model) is evaluated on datasets its own generator makes, and must
score exactly what its handler gives outside the server; each failure-case fixture project ends ``failed``
with its class while another model's jobs go on; a server killed with SIGKILL mid-evaluation finishes the
job once started again (on the sandbox, whose processes die with it, and on Docker, whose containers
its restart removes).
"""

import json
import math
import os
import re
import signal
import time

import pytest
from sklearn.metrics import accuracy_score, f1_score

from evaluation_support import local_predictions, make_dataset, model_processes, read_jsonl, score_records
from server_support import Api, wait_for

from dynalab.testing.server_process import ServerProcess

EXAMPLE_INIT = ("init", "-n", "nli-bow", "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py",
                "--model-files", "vocab.json,labels.py", "--exclude", "train.py")
FIXTURE_INIT = ("init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py")
WAIT = 600  # seconds: a generous bound for CI; the figures are in benchmarks/bench_evaluation.py

# The test server's nli: the built-in definition with small limits, so that failing takes seconds.
TIGHT_NLI_LIMITS = {"memory": "300m", "request_timeout": 2, "load_timeout": 60, "batch_size": 4}


@pytest.fixture
def example(make_project, cli, torch):
    project = make_project("example", "nli-bow")
    assert cli(*EXAMPLE_INIT, cwd=project).returncode == 0
    return project


def status(cli, project, env, name, *extra):
    """``dynalab-cli status -n NAME --wait --json``: (exit code, the JSON object, stderr)."""
    result = cli("status", "-n", name, "--wait", "--json", "--timeout", str(WAIT), *extra, cwd=project, env=env,
                 timeout=WAIT + 60)
    return result.returncode, json.loads(result.stdout), result.stderr


def test_the_example_is_evaluated_on_each_dataset_with_the_scores_it_gets_outside_the_server(
        example, cli, tmp_path):
    first = make_dataset(example, tmp_path / "first.jsonl", seed=2, count=300)
    second = make_dataset(example, tmp_path / "second.jsonl", seed=3, count=200)
    with ServerProcess(tmp_path / "data") as server:
        for name, path in (("heldout-a", first), ("heldout-b", second)):
            assert server.cli("add-dataset", "--task", "nli", "--name", name, str(path)).returncode == 0
        env = {"DYNALAB_API_URL": server.url, "DYNALAB_API_TOKEN": server.add_user("ada@example.org")}
        upload = cli("upload", "-n", "nli-bow", "--no-progress", cwd=example, env=env)
        assert upload.returncode == 0, upload.stdout + upload.stderr

        code, evaluated, err = status(cli, example, env, "nli-bow")
        assert code == 0, err
        assert (evaluated["status"], evaluated["failure"]) == ("evaluated", None)
        by_name = {dataset["name"]: dataset for dataset in evaluated["datasets"]}
        assert sorted(by_name) == ["heldout-a", "heldout-b"]
        for name, path in (("heldout-a", first), ("heldout-b", second)):
            examples = read_jsonl(path)
            predicted = local_predictions(example, "nli-bow", examples, tmp_path / f"local-{name}")
            gold = [example["label"] for example in examples]
            labels = [predicted[example["uid"]] for example in examples]
            dataset = by_name[name]
            assert dataset["status"] == "done"
            assert set(dataset["metrics"]) == {"accuracy", "macro_f1"}
            assert math.isclose(dataset["metrics"]["accuracy"], accuracy_score(gold, labels), abs_tol=1e-9)
            assert math.isclose(dataset["metrics"]["macro_f1"], f1_score(gold, labels, average="macro"), abs_tol=1e-9)
            assert dataset["examples_per_second"] > 0 and dataset["peak_memory_mb"] > 0
        model_id = evaluated["model_id"]

        # A dataset added afterwards takes the evaluated model back to evaluating, then evaluated again.
        third = make_dataset(example, tmp_path / "third.jsonl", seed=4, count=100)
        added = server.cli("add-dataset", "--task", "nli", "--name", "heldout-c", str(third))
        assert added.returncode == 0 and f"Queued its evaluation for 1 model (id {model_id})" in added.stdout
        code, again, err = status(cli, example, env, "nli-bow", "--log")
        assert code == 0, err
        assert again["status"] == "evaluated"
        assert [(d["name"], d["status"]) for d in again["datasets"]] == [
            ("heldout-a", "done"), ("heldout-b", "done"), ("heldout-c", "done")]
        assert again["datasets"][:2] == evaluated["datasets"]  # the earlier scores stand
        assert "sending 100 examples" in again["log"]
        assert score_records(server.data_dir, model_id) == {1: 1, 2: 1, 3: 1}
    assert model_processes(server.data_dir) == []
    assert list((server.data_dir / "scratch").iterdir()) == []


@pytest.fixture
def tight_server(tmp_path):
    """A server whose nli task has small limits (300 MB, 2 s a request), with one dataset: a few ordinary
    examples and one of each word the failure fixtures react to ("boom", "slow", "hungry", "odd")."""
    import yaml

    from dynalab.tasks.registry import load_builtin

    data = tmp_path / "data"
    (data / "tasks").mkdir(parents=True)
    nli = {**load_builtin("nli"), "limits": TIGHT_NLI_LIMITS}
    (data / "tasks" / "nli.yaml").write_text(yaml.safe_dump(nli), encoding="utf-8")
    hypotheses = ["A person rests.", "Nothing goes boom here.", "A slow train.", "A hungry cat.",
                  "An odd number.", "It rains.", "A dog barks."]
    dataset = tmp_path / "triggers.jsonl"
    dataset.write_text("".join(json.dumps({"uid": f"t{index}", "context": "A man sleeps on the couch.",
                                           "hypothesis": hypothesis, "label": "neutral"}) + "\n"
                               for index, hypothesis in enumerate(hypotheses)), encoding="utf-8")
    with ServerProcess(data) as server:
        assert server.cli("add-dataset", "--task", "nli", "--name", "triggers", str(dataset)).returncode == 0
        yield server


FAILURES = [
    # fixture project, failure class, what the reason says
    ("crashes-on-one-example", "crash", "example 't1': the server answered 500: ZeroDivisionError"),
    ("sleeps-past-the-request-timeout", "timeout", "example 't2': no answer within the task's request_timeout of 2s"),
    ("allocates-past-the-memory-limit", "memory", "example 't3': the model ran out of memory"),
    ("answers-a-label-outside-the-labels", "bad_response", "example 't4' is invalid: label: expected one of entailed, "
                                                           "neutral, contradictory, got 'maybe'"),
]


CONCURRENT_VICTIMS = ("timeout", "memory")


def test_each_failing_model_ends_failed_with_its_class_a_one_line_reason_and_a_log_while_others_go_on(
        tight_server, make_project, cli):
    uploaded = {}
    for index, (case, _, _) in enumerate(FAILURES + [("contract-nli", None, None)]):
        project = make_project(case, case)
        init = FIXTURE_INIT + (("--model-files", "labels.json,rules.py") if case == "contract-nli" else ())
        assert cli(*init, cwd=project).returncode == 0
        env = {"DYNALAB_API_URL": tight_server.url,
               "DYNALAB_API_TOKEN": tight_server.add_user(f"user{index}@example.org")}
        upload = cli("upload", "-n", "m", "--no-progress", cwd=project, env=env)
        assert upload.returncode == 0, upload.stdout + upload.stderr  # each passes the integrated test
        uploaded[case] = (project, env)

    for case, failure_class, said in FAILURES:
        project, env = uploaded[case]
        code, failed, err = status(cli, project, env, "m", "--log")
        assert code == 9, (case, failed, err)
        assert failed["status"] == "failed"
        assert failed["failure"]["class"] == failure_class, (case, failed["failure"])
        reason = failed["failure"]["reason"]
        if failure_class in CONCURRENT_VICTIMS:
            # Requests are sent batch_size at a time: one waiting behind the example that hangs
            # or eats the memory may be the one to hit the limit, so any example may be named.
            said = re.sub(r"^example 't\d+'", "", said)
            assert re.match(r"example 't\d+'", reason), (case, reason)
        assert said in reason and "\n" not in reason and failed["failure"]["hint"], (case, reason)
        assert f"failed ({failure_class}): " in failed["log"], case
        assert [(d["name"], d["status"]) for d in failed["datasets"]] == [("triggers", "failed")]
    bad_label = uploaded["answers-a-label-outside-the-labels"]
    log = status(cli, *bad_label, "m", "--log")[1]["log"]
    assert '"hypothesis": "An odd number."' in log and '"label": "maybe"' in log and "failed check: label" in log
    crash_log = status(cli, *uploaded["crashes-on-one-example"], "m", "--log")[1]["log"]
    assert 'while answering: {"uid": "t1"' in crash_log and "ZeroDivisionError" in crash_log

    project, env = uploaded["contract-nli"]
    code, evaluated, err = status(cli, project, env, "m")
    assert code == 0, err
    assert [(d["name"], d["status"]) for d in evaluated["datasets"]] == [("triggers", "done")]
    assert model_processes(tight_server.data_dir) == []


def test_a_model_reading_the_servers_database_fails_to_load_and_reads_nothing(tight_server, make_project, cli):
    project = make_project("reads-the-server-database", "reads-the-server-database")
    database = tight_server.data_dir / "dynalab.sqlite3"
    (project / "server_path.txt").write_text(str(database))
    assert cli(*FIXTURE_INIT, "--model-files", "server_path.txt", cwd=project).returncode == 0
    # Unconfined, in the user's own environment, the handler reads the file and passes:
    assert cli("test", "--local", "-n", "m", cwd=project).returncode == 0
    # so it is sent as anyone can send one, skipping the integrated test (which it fails).
    assert cli("package", "-n", "m", cwd=project).returncode == 0
    api_token = tight_server.add_user("mallory@example.org")
    api = Api(tight_server.url)
    bearer = api.bearer(api_token)
    archive = (project / ".dynalab" / "m" / "build" / "m.tar.gz").read_bytes()
    model_id = api.upload(bearer, archive, name="m").json()["model_id"]

    assert wait_for(lambda: api.model(bearer, model_id).json()["status"] == "failed", WAIT)
    model = api.model(bearer, model_id).json()
    assert model["failure"]["class"] == "load", model["failure"]
    assert str(database) in model["failure"]["reason"] and "outside the package" in model["failure"]["reason"]
    log = api.get(f"/models/{model_id}/log", headers={"Authorization": f"Bearer {bearer}"}).text
    assert "FileNotFoundError" in log and "failed (load)" in log


def test_a_server_killed_mid_evaluation_finishes_it_after_its_restart_with_one_score_record(example, cli,
                                                                                          tmp_path):
    slow = make_dataset(example, tmp_path / "large.jsonl", seed=5, count=6000)
    small = make_dataset(example, tmp_path / "small.jsonl", seed=6, count=50)
    server = ServerProcess(tmp_path / "data")
    try:
        server.start()
        assert server.cli("add-dataset", "--task", "nli", "--name", "large", str(slow)).returncode == 0
        assert server.cli("add-dataset", "--task", "nli", "--name", "small", str(small)).returncode == 0
        env = {"DYNALAB_API_URL": server.url, "DYNALAB_API_TOKEN": server.add_user("kim@example.org")}
        assert cli("upload", "-n", "nli-bow", "--no-progress", cwd=example, env=env).returncode == 0
        api = Api(server.url)
        bearer = api.bearer(env["DYNALAB_API_TOKEN"])
        large = lambda: next((d for d in api.model(bearer, 1).json()["datasets"] if d["name"] == "large"), {})  # noqa: E731
        assert wait_for(lambda: large().get("status") == "running" and model_processes(server.data_dir), WAIT)
        time.sleep(1.0)  # well into sending its 6000 examples
        os.kill(server.pid, signal.SIGKILL)
        server._process.wait()
        assert wait_for(lambda: model_processes(server.data_dir) == [], 10), model_processes(server.data_dir)

        server.start()
        code, evaluated, err = status(cli, example, env, "nli-bow", "--log")
        assert code == 0, err
        assert [(d["name"], d["status"]) for d in evaluated["datasets"]] == [("large", "done"), ("small", "done")]
        assert score_records(server.data_dir, evaluated["model_id"]) == {1: 1, 2: 1}
        assert "the server stopped while the job ran" in evaluated["log"]
        history = api.model(bearer, 1).json()["history"]
        assert [(h["status"], h["dataset"]) for h in history].count(("done", "large")) == 1
    finally:
        server.stop()
    assert model_processes(server.data_dir) == []
    assert list((server.data_dir / "scratch").iterdir()) == []


@pytest.fixture
def docker_engine():
    from prerequisites import missing

    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as error:  # no SDK, no engine: the test cannot run here
        missing(f"Docker is not reachable ({error}); run .ci/docker-setup")
    yield client
    client.close()


def test_on_docker_a_server_killed_mid_evaluation_leaves_a_container_that_its_restart_removes(
        example, cli, tmp_path, docker_engine):
    from dynalab.server.jobs.work import SCRATCH_LABEL

    large = make_dataset(example, tmp_path / "large.jsonl", seed=5, count=6000)
    base_image = os.environ.get("DYNALAB_DOCKER_BASE_IMAGE") or "local/debian-py:bookworm"
    server = ServerProcess(tmp_path / "data", extra_args=("--backend", "docker"),
                           env={"DYNALAB_DOCKER_BASE_IMAGE": base_image})
    mine = {"label": f"{SCRATCH_LABEL}={server.data_dir / 'scratch'}"}
    try:
        server.start()
        assert server.cli("add-dataset", "--task", "nli", "--name", "large", str(large)).returncode == 0
        env = {"DYNALAB_API_URL": server.url, "DYNALAB_API_TOKEN": server.add_user("lee@example.org")}
        assert cli("upload", "-n", "nli-bow", "--no-progress", cwd=example, env=env).returncode == 0
        api = Api(server.url)
        bearer = api.bearer(env["DYNALAB_API_TOKEN"])
        running = lambda: [d["status"] for d in api.model(bearer, 1).json()["datasets"]] == ["running"]  # noqa: E731
        assert wait_for(lambda: running() and docker_engine.containers.list(filters=mine), WAIT)
        os.kill(server.pid, signal.SIGKILL)
        server._process.wait()
        assert docker_engine.containers.list(filters=mine)  # Docker's containers outlive the server

        server.start()  # removes the container before it takes the job up again
        code, evaluated, err = status(cli, example, env, "nli-bow")
        assert code == 0, err
        assert [(d["name"], d["status"]) for d in evaluated["datasets"]] == [("large", "done")]
        assert score_records(server.data_dir, evaluated["model_id"]) == {1: 1}
        assert "removed 1 container(s) left by jobs of an earlier run" in server.log()
    finally:
        server.stop()
    assert docker_engine.containers.list(all=True, filters=mine) == []
