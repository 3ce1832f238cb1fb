"""The uploader is told when their model ends: an email through a real SMTP server (aiosmtpd, on
127.0.0.1) and a webhook posted to a real local HTTP receiver; a mail server that is down holds no job."""

import email
import json
import threading
from email import policy
from http.server import BaseHTTPRequestHandler

import pytest

from celery_support import free_port
from journal_job import JournalJob
from loopback import LoopbackServer
from server_support import Api, model_archive, wait_for


class Inbox:
    """An aiosmtpd handler keeping every message it is given."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=policy.default)))
        return "250 Message accepted"


@pytest.fixture
def inbox():
    from aiosmtpd.controller import Controller

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}"
    yield inbox
    controller.stop()


class Receiver(BaseHTTPRequestHandler):
    """Keeps every JSON body posted; answers the first post of each model 503 (so it is sent again)."""

    bodies, refused = [], set()
    lock = threading.Lock()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            first = body["model_id"] not in self.refused
            self.refused.add(body["model_id"])
            if not first:
                self.bodies.append(body)
        self.send_response(503 if first else 204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.bodies, Receiver.refused = [], set()
    with LoopbackServer(Receiver) as server:
        yield server


@pytest.fixture
def job(tmp_path):
    return JournalJob(tmp_path / "job")


def uploads(server, names):
    api = Api(server.url)
    bearer = api.bearer(server.add_user("uploader@example.org"))
    ids = []
    for name in names:
        response = api.upload(bearer, model_archive(name), name=name)
        assert response.status_code == 200, response.text
        ids.append(response.json()["model_id"])
    return api, bearer, ids


def test_an_evaluated_and_a_failed_model_each_send_one_email_and_one_webhook_to_the_uploader(
        redis, broker_server, start_worker, job, inbox, receiver, tmp_path):
    server = broker_server(redis, "--smtp-url", inbox.url, "--smtp-from", "leaderboard@lab.example",
                           "--webhook-url", receiver.url + "/hook", "--public-url", "https://dynalab.lab.example")
    dataset = tmp_path / "dev.jsonl"
    dataset.write_text("".join(json.dumps({"uid": f"u{i}", "context": "c", "hypothesis": h, "label": "entailed"}) + "\n"
                               for i, h in enumerate(["a cat", "b dog", "c cow"])))
    assert server.cli("add-dataset", "--task", "nli", "--name", "dev", str(dataset)).returncode == 0
    start_worker(server, redis, "alpha")
    api, bearer, (good, bad) = uploads(server, ["m", "fails"])

    assert wait_for(lambda: len(inbox.messages) >= 2 and len(Receiver.bodies) >= 2, 60), server.log()
    wait_for(lambda: False, 2)  # nothing more comes
    assert len(inbox.messages) == 2 and len(Receiver.bodies) == 2
    mails = {message["Subject"]: (to, message) for to, message in inbox.messages}

    to, evaluated = mails["Dynalab: your model m is evaluated"]
    assert to == ["uploader@example.org"] and evaluated["From"] == "leaderboard@lab.example"
    text = evaluated.get_content()
    accuracy = api.model(bearer, good).json()["datasets"][0]["metrics"]["accuracy"]
    assert f"- dev: accuracy {accuracy:.4g}" in text
    assert f"Its page: https://dynalab.lab.example/models/{good}" in text

    to, failed = mails["Dynalab: your model fails failed (load)"]
    assert to == ["uploader@example.org"]
    text = failed.get_content()
    assert "Reason: ModuleNotFoundError: No module named 'transformers'" in text
    assert "What to do: list transformers in the config's requirements" in text
    assert "dynalab-cli status -n fails --log" in text and f"https://dynalab.lab.example/models/{bad}/log" in text

    hooks = {body["model_id"]: body for body in Receiver.bodies}
    assert hooks[good]["event"] == "model.evaluated" and hooks[good]["datasets"][0]["metrics"]["accuracy"] == accuracy
    assert hooks[good]["url"] == f"https://dynalab.lab.example/models/{good}"
    assert hooks[bad]["event"] == "model.failed" and hooks[bad]["failure"]["class"] == "load"
    assert hooks[bad]["uploader"] == "uploader@example.org"


def test_a_mail_server_that_is_down_neither_fails_nor_delays_the_job(redis, broker_server, start_worker, job):
    server = broker_server(redis, "--smtp-url", f"smtp://127.0.0.1:{free_port()}")  # nobody listens there
    start_worker(server, redis, "alpha")
    api, bearer, [model_id] = uploads(server, ["m"])
    assert wait_for(lambda: api.model(bearer, model_id).json()["status"] == "evaluated", 30)
    # The sending is tried again in the background (1 + 2 + 4 + 8 s) and given up with one warning.
    assert wait_for(lambda: "email to uploader@example.org not sent after 5 attempts" in server.log(), 40), \
        server.log()
