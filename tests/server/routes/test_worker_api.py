"""The worker API and worker tokens: what a remote worker may do, and nothing more.

A real server (no broker, no embedded worker: its jobs stay queued for the
test to claim by hand, as a worker would).
"""

import hashlib
import json

import pytest
import requests

from server_support import Api, model_archive

from dynalab.server.db.database import Database
from dynalab.server.db.models import Worker
from dynalab.server.settings import sqlite_url


@pytest.fixture
def server(start_server):
    return start_server("--workers", "0")


def add_worker(server, name):
    result = server.cli("add-worker", name)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


class WorkerClient:
    def __init__(self, url, token):
        self.url, self.http = url, requests.Session()
        self.http.trust_env = False
        self.http.headers["Authorization"] = f"Bearer {token}"

    def claim(self, job_id):
        return self.http.post(f"{self.url}/worker/jobs/{job_id}/claim", timeout=30)

    def get(self, job_id, what, lease):
        return self.http.get(f"{self.url}/worker/jobs/{job_id}/{what}", headers={"X-Dynalab-Lease": lease}, timeout=30)

    def post(self, job_id, call, lease, **body):
        return self.http.post(f"{self.url}/worker/jobs/{job_id}/{call}", headers={"X-Dynalab-Lease": lease},
                              json=body, timeout=30)


def uploaded(server, name="m"):
    api = Api(server.url)
    bearer = api.bearer(server.add_user(f"{name}@example.org"))
    response = api.upload(bearer, model_archive(name), name=name)
    assert response.status_code == 200, response.text
    return api, bearer, response.json()["model_id"]


def test_add_worker_prints_the_token_last_and_keeps_only_its_hash(server):
    token = add_worker(server, "gpu-box-1")
    assert token.startswith("dlw_") and len(token) > 40
    again = server.cli("add-worker", "gpu-box-1")
    assert again.returncode != 0 and "a worker named gpu-box-1 already exists" in again.stderr
    bad = server.cli("add-worker", "no spaces")
    assert bad.returncode != 0 and "worker name 'no spaces' is not usable" in bad.stderr
    listed = server.cli("list-workers").stdout
    assert "\tgpu-box-1\t0 running\tnever seen\t" in listed
    db = Database(sqlite_url(server.data_dir))
    with db.session() as session:
        [worker] = session.query(Worker).all()
        assert worker.token_hash != token and token not in worker.token_hash
    db.dispose()


def test_a_worker_token_is_refused_everywhere_but_the_worker_api(server):
    token = add_worker(server, "w1")
    api, _, model_id = uploaded(server)
    as_worker = {"Authorization": f"Bearer {token}"}
    upload = api.http.post(server.url + "/models/upload/s3", headers=as_worker, data={"name": "m", "taskCode": "nli"},
                           files={"tarball": ("m.tar.gz", model_archive(), "application/gzip")}, timeout=30)
    assert upload.status_code == 403 and "a worker token can only" in upload.json()["detail"]
    for path in ("/models", f"/models/{model_id}", f"/models/{model_id}/log"):
        answer = api.get(path, headers=as_worker)
        assert answer.status_code == 403, (path, answer.text)
    # Nor is it an API token to exchange for a bearer token.
    assert api.refresh(token).status_code == 401


def test_a_users_tokens_are_refused_by_the_worker_api(server):
    api_token = server.add_user("someone@example.org")
    bearer = Api(server.url).bearer(api_token)
    for token in (api_token, bearer, "dlw_not-a-token"):
        answer = WorkerClient(server.url, token).claim(1)
        assert answer.status_code == 401 and "worker token" in answer.json()["detail"]


def test_a_worker_claims_a_job_once_reads_its_inputs_without_targets_and_its_predictions_are_scored_on_the_server(
        server, tmp_path):
    worker, other = WorkerClient(server.url, add_worker(server, "w1")), WorkerClient(server.url, add_worker(server, "w2"))
    dataset = tmp_path / "dev.jsonl"
    dataset.write_text("".join(json.dumps({"uid": f"u{i}", "context": "c", "hypothesis": "h", "label": label}) + "\n"
                               for i, label in enumerate(["entailed", "neutral", "entailed", "contradictory"])))
    assert server.cli("add-dataset", "--task", "nli", "--name", "dev", str(dataset)).returncode == 0
    api, bearer, model_id = uploaded(server)

    claimed = worker.claim(1)
    assert claimed.status_code == 200, claimed.text
    claim = claimed.json()
    lease = claim["ticket"]["lease_token"]
    assert claim["ticket"] == {"job_id": 1, "model_id": model_id, "dataset_id": None, "attempt": 1, "lease_token": lease}
    assert claim["model_name"] == "m" and claim["what"] == "deployment on worker w1"
    assert other.claim(1).status_code == 409  # running on w1 now
    archive = worker.get(1, "archive", lease)
    assert archive.status_code == 200 and hashlib.sha256(archive.content).hexdigest() == claim["sha256"]
    assert worker.get(1, "task", lease).json()["task"] == "nli"
    assert worker.get(1, "inputs", lease).status_code == 400  # a deploy job has no dataset
    # Another worker, or a wrong lease, changes nothing.
    assert other.post(1, "deployed", lease).status_code == 409
    assert worker.post(1, "deployed", "not-the-lease").status_code == 409
    assert api.model(bearer, model_id).json()["status"] == "queued"

    assert worker.post(1, "deploying", lease, log="unpacking\n").status_code == 200
    assert worker.post(1, "deployed", lease).status_code == 200
    assert worker.post(1, "deployed", lease).status_code == 409  # the job has ended
    assert api.model(bearer, model_id).json()["status"] == "evaluating"

    evaluation = worker.claim(2).json()
    lease = evaluation["ticket"]["lease_token"]
    lines = worker.get(2, "inputs", lease).text.splitlines()
    inputs = [json.loads(line) for line in lines]
    assert [example["uid"] for example in inputs] == ["u0", "u1", "u2", "u3"]
    assert all("label" not in example for example in inputs)  # the targets stay on the server
    assert worker.post(2, "evaluating", lease).status_code == 200
    bad = worker.post(2, "predictions", lease, responses=[], examples_per_second=1)
    assert bad.status_code == 400 and "responses" in bad.json()["detail"]
    responses = {f"u{i}": {"id": f"u{i}", "label": "entailed"} for i in range(4)}
    done = worker.post(2, "predictions", lease, responses=responses, examples_per_second=12.5, peak_memory_mb=40)
    assert done.status_code == 200, done.text

    model = api.model(bearer, model_id).json()
    assert model["status"] == "evaluated"
    assert model["datasets"] == [{"name": "dev", "access": "scoring", "status": "done", "metrics": model["datasets"][0]["metrics"],
                                  "examples_per_second": 12.5, "peak_memory_mb": 40.0, "worker": "w1"}]
    assert model["datasets"][0]["metrics"]["accuracy"] == 0.5
    log = api.get(f"/models/{model_id}/log", headers={"Authorization": f"Bearer {bearer}"}).text
    assert "unpacking\n" in log
    assert "last seen" in server.cli("list-workers").stdout


def test_a_removed_workers_token_stops_working(server):
    token = add_worker(server, "w1")
    uploaded(server)
    removed = server.cli("remove-worker", "w1")
    assert removed.returncode == 0 and "Removed worker w1" in removed.stdout
    assert WorkerClient(server.url, token).claim(1).status_code == 401
    assert server.cli("remove-worker", "w1").returncode != 0


def test_bad_reports_get_a_reason_not_a_500(server):
    worker = WorkerClient(server.url, add_worker(server, "w1"))
    uploaded(server)
    lease = worker.claim(1).json()["ticket"]["lease_token"]
    answers = [
        worker.post(1, "failed", lease, failure_class="bored", reason="x"),
        worker.post(1, "failed", lease, failure_class="load"),
        worker.post(1, "nonsense", lease),
        worker.http.post(f"{server.url}/worker/jobs/1/log", headers={"X-Dynalab-Lease": lease}, data=b"not json",
                         timeout=30),
        worker.post(1, "log", lease, log=12),
        worker.get(1, "task", ""),
        worker.claim(2**70),
    ]
    assert [answer.status_code for answer in answers] == [400, 400, 404, 400, 400, 400, 404]
    too_big = worker.post(1, "log", lease, log="x" * (3 * 1024 * 1024))
    assert too_big.status_code == 413
