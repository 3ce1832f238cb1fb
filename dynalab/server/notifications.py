"""Telling the uploader when their model is done: an email (``--smtp-url``) and a webhook (``--webhook-url``).

When a model ends ``evaluated`` or ``failed``, the lifecycle marks it in its
session (``lifecycle.ENDED``); once that session commits, the ``Notifier``
queues the model's id, and a thread of its own reads the model afresh and
sends. So a notification is sent only for a move that really happened, and
sending never holds a job: a mail server or receiver that is down, slow or
refusing costs a few retries in that thread (with backoff), then one
warning in the server's log. The queue is bounded: past it, notifications
are dropped (and logged), never memory.

The email says what the model scored (or why it failed, with the hint and
how to read its log) and links to its page; the webhook posts the same as
JSON (``notification_json``), for a lab's chat or CI.
"""

import logging
import queue
import smtplib
import socket
import threading
import time
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import requests
from sqlalchemy import event

from dynalab.server import lifecycle
from dynalab.server.db.models import Upload, User
from dynalab.server.model_view import model_json

log = logging.getLogger("dynalab.server.notifications")

ATTEMPTS = 5
BACKOFF = 1.0  # seconds before the second attempt, doubled after each
TIMEOUT = 10
MAX_WAITING = 1000


def check_smtp_url(url):
    """``url`` if it is ``smtp://[USER:PASSWORD@]HOST[:PORT]``; else a ``ValueError`` saying why."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(f"{url!r} is not an SMTP URL: write smtp://HOST:PORT (or smtps://, with USER:PASSWORD@)")
    return url


class Notifier:
    """Sends the notifications of models that ended, from a thread of its own; a context manager."""

    def __init__(self, db, public_url, smtp_url=None, smtp_from=None, webhook_url=None, attempts=ATTEMPTS,
                 backoff=BACKOFF):
        self.db, self.public_url = db, public_url.rstrip("/")
        self.smtp_url, self.webhook_url = smtp_url, webhook_url
        self.smtp_from = smtp_from or f"dynalab@{socket.getfqdn()}"
        self.attempts, self.backoff = attempts, backoff
        self._waiting = queue.Queue(MAX_WAITING)
        self._thread = threading.Thread(target=self._send_all, name="dynalab-notifications", daemon=True)
        self._stopping = threading.Event()

    @property
    def enabled(self):
        return bool(self.smtp_url or self.webhook_url)

    def start(self):
        if not self.enabled:
            return self
        event.listen(self.db.session, "after_commit", self._committed)
        event.listen(self.db.session, "after_soft_rollback", _forget)
        self._thread.start()
        return self

    def stop(self, timeout=5):
        if not self.enabled:
            return
        event.remove(self.db.session, "after_commit", self._committed)
        event.remove(self.db.session, "after_soft_rollback", _forget)
        self._stopping.set()
        self._waiting.put(None)
        self._thread.join(timeout)

    __enter__ = start

    def __exit__(self, *exc):
        self.stop()

    def _committed(self, session):
        for model_id in sorted(session.info.pop(lifecycle.ENDED, ())):
            try:
                self._waiting.put_nowait(model_id)
            except queue.Full:
                log.warning("model %d: notification dropped (%d already waiting)", model_id, MAX_WAITING)

    def _send_all(self):
        while True:
            model_id = self._waiting.get()
            if model_id is None:
                return
            try:
                self.send(model_id)
            except Exception:
                log.exception("model %d: notification not sent", model_id)

    def send(self, model_id):
        """Send model ``model_id``'s notifications now (each retried on its own)."""
        with self.db.session() as session:
            model = session.get(Upload, model_id)
            user = session.get(User, model.user_id) if model else None
            if model is None or model.status not in ("evaluated", "failed"):
                return
            body = notification_json(session, model, user, self.public_url)
        if self.smtp_url and user is not None:
            self._retried(f"model {model_id}: email to {user.email}", lambda: self._email(body))
        if self.webhook_url:
            self._retried(f"model {model_id}: webhook", lambda: self._webhook(body))

    def _retried(self, what, send):
        for attempt in range(1, self.attempts + 1):
            try:
                send()
                log.info("%s sent", what)
                return True
            except Exception as error:
                if attempt == self.attempts or self._stopping.is_set():
                    log.warning("%s not sent after %d attempts: %s", what, attempt, error)
                    return False
                time.sleep(self.backoff * 2 ** (attempt - 1))

    def _email(self, body):
        message = EmailMessage()
        message["From"], message["To"] = self.smtp_from, body["uploader"]
        message["Subject"] = subject(body)
        message.set_content(email_text(body))
        parts = urlsplit(self.smtp_url)
        kind = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        with kind(parts.hostname, parts.port or (465 if parts.scheme == "smtps" else 25), timeout=TIMEOUT) as smtp:
            if parts.username:
                if parts.scheme == "smtp" and smtp.has_extn("starttls"):
                    smtp.starttls()
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(message)

    def _webhook(self, body):
        with requests.Session() as http:
            http.trust_env = False
            response = http.post(self.webhook_url, json=body, timeout=TIMEOUT)
        response.raise_for_status()


def _forget(session, previous_transaction):
    if not session.in_transaction():
        session.info.pop(lifecycle.ENDED, None)


def notification_json(session, model, user, public_url):
    """What a notification says: ``GET /models/{id}``'s answer, plus the event, the uploader, the
    model's page and how to read its log."""
    return {
        "event": f"model.{model.status}",
        **model_json(session, model),
        "uploader": user.email if user else None,
        "url": f"{public_url}/models/{model.id}",
        "log": {"url": f"{public_url}/models/{model.id}/log",
                "command": f"dynalab-cli status -n {model.name} --log"},
    }


def subject(body):
    if body["status"] == "evaluated":
        return f"Dynalab: your model {body['name']} is evaluated"
    return f"Dynalab: your model {body['name']} failed ({body['failure']['class']})"


def email_text(body):
    lines = [f"Your model {body['name']} (task {body['task_code']}, id {body['model_id']}) "
             f"{'is evaluated' if body['status'] == 'evaluated' else 'failed'}.", ""]
    if body["status"] == "evaluated":
        if body["metrics"]:
            lines.append("Averaged over the scoring datasets: " + _scores(body["metrics"]))
        for dataset in body["datasets"]:
            shown = _scores(dataset["metrics"]) if dataset["metrics"] else "(hidden)"
            lines.append(f"- {dataset['name']}: {shown}")
        if not body["datasets"]:
            lines.append("Its task has no evaluation datasets yet: it is deployed, with no scores.")
    else:
        failure = body["failure"]
        lines += [f"Failure: {failure['class']}", f"Reason: {failure['reason']}"]
        if failure.get("hint"):
            lines.append(f"What to do: {failure['hint']}")
        lines += ["", f"Its log: `{body['log']['command']}`, or {body['log']['url']}"]
    lines += ["", f"Its page: {body['url']}", ""]
    return "\n".join(lines)


def _scores(metrics):
    return ", ".join(f"{name} {value:.4g}" for name, value in metrics.items())
