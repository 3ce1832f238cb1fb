"""Uploading to a real server: receipt, local copy, quota, refusals, a server that is gone."""

import fcntl
import hashlib
import os
import pty
import struct
import sys
import termios
import threading
from pathlib import Path

import pytest
import requests

from dynalab.client import api
from dynalab.client.upload import upload, was_uploaded
from dynalab.errors import AuthError, ServerError, Throttled, UploadError, UsageError
from dynalab.testing.server_process import ServerProcess

from client_support import MODEL, make_archive, read_until
from flaky_proxy import FlakyProxy


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upload_returns_a_receipt_and_keeps_a_local_copy(server, user_token, archive, project):
    receipt = upload(server.url, user_token, MODEL, "nli", archive, progress=False, root=project)
    assert receipt.sha256 == sha256(archive)
    assert receipt.size == archive.stat().st_size
    assert receipt.url == f"{server.url}/models/{receipt.model_id}"
    copies = list((project / ".dynalab_submissions").iterdir())
    assert [str(c) for c in copies] == [receipt.local_copy]
    assert copies[0].name.endswith(f"-{MODEL}.tar.gz") and copies[0].read_bytes() == archive.read_bytes()
    status = api.model_status(server.url, user_token, receipt.model_id)
    assert status["sha256"] == receipt.sha256
    assert [model["model_id"] for model in api.list_models(server.url, user_token)] == [receipt.model_id]
    with pytest.raises(UsageError, match="no uploaded model with id 999999"):
        api.model_status(server.url, user_token, 999999)


def test_on_a_terminal_a_progress_bar_shows_the_upload(server, user_token, archive, project):
    code = (
        "from dynalab.client.upload import upload; "
        f"receipt = upload({server.url!r}, {user_token!r}, {MODEL!r}, 'nli', {str(archive)!r}, root={str(project)!r}); "
        "print('model', receipt.model_id)"
    )
    pid, terminal = pty.fork()
    if pid == 0:  # the child: its stderr is a terminal, 80 columns wide
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        os.execv(sys.executable, [sys.executable, "-c", code])
    output = read_until(terminal, b"model ")
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, output
    assert f"Uploading {MODEL}:".encode() in output and b"model " in output


def test_the_local_copy_is_a_copy_when_links_are_impossible(server, user_token, archive, project, monkeypatch):
    def no_links(*args):
        raise OSError("cross-device link")

    monkeypatch.setattr("os.link", no_links)
    receipt = upload(server.url, user_token, MODEL, "nli", archive, progress=False, root=project)
    assert sha256(Path(receipt.local_copy)) == receipt.sha256
    assert not list((project / ".dynalab_submissions").glob(".*partial"))


def test_a_record_of_uploads_finds_the_same_content_again(server, user_token, archive, project):
    receipt = upload(server.url, user_token, MODEL, "nli", archive, progress=False, root=project)
    uploads = [receipt.as_record()]
    assert was_uploaded(uploads, receipt.sha256)["model_id"] == receipt.model_id
    assert was_uploaded(uploads, "0" * 64) is None
    assert was_uploaded(None, receipt.sha256) is None


def test_the_fourth_upload_in_a_day_is_throttled_with_the_quota_and_the_next_slot(server, user_token, archive, project):
    for _ in range(3):
        upload(server.url, user_token, MODEL, "nli", archive, progress=False, root=project)
    with pytest.raises(Throttled) as caught:
        upload(server.url, user_token, MODEL, "nli", archive, progress=False, root=project)
    error = caught.value
    assert "at most 3 uploads per 24 hours" in str(error)
    assert "next slot opens" in str(error)
    assert 23 * 3600 < error.retry_after <= 24 * 3600
    assert "UTC" in error.hint and "in 2" in error.hint  # "in 24 h" (or 23 h 59 min)
    assert "second" not in f"{error} {error.hint}"  # hours and minutes, not 86399 seconds
    assert len(list((project / ".dynalab_submissions").iterdir())) == 3  # nothing kept for the refusal


def test_a_rejected_token_says_to_log_in_again(server, archive, project):
    with pytest.raises(AuthError, match="log in again: dynalab-cli login"):
        upload(server.url, "not-a-token", MODEL, "nli", archive, progress=False, root=project)
    assert not (project / ".dynalab_submissions").exists()


def test_a_bad_archive_is_refused_with_the_servers_reason(server, user_token, project):
    bogus = project / "bogus.tar.gz"
    bogus.write_bytes(b"this is not gzip")
    with pytest.raises(UploadError, match="not gzip-compressed"):
        upload(server.url, user_token, MODEL, "nli", bogus, progress=False, root=project)
    assert not (project / ".dynalab_submissions").exists()


def test_an_archive_over_the_servers_limit_is_refused_as_too_large(tmp_path, project):
    archive = make_archive(project / "big.tar.gz", payload=os.urandom(200_000))
    with ServerProcess(tmp_path / "data", extra_args=["--max-upload-bytes", "100000"]) as strict:
        token = strict.add_user("big@example.org")
        with pytest.raises(UploadError, match="too large: .*limit of 100000 bytes") as caught:
            upload(strict.url, token, MODEL, "nli", archive, progress=False, root=project)
    assert "exclude" in caught.value.hint
    assert not (project / ".dynalab_submissions").exists()


def test_an_archive_for_another_task_is_refused(server, user_token, project):
    archive = make_archive(project / "sentiment.tar.gz", task="sentiment")
    with pytest.raises(UploadError, match="sentiment"):
        upload(server.url, user_token, MODEL, "nli", archive, progress=False, root=project)


def test_upload_to_a_stopped_server_names_its_address(tmp_path, archive, project, quick_session):
    with ServerProcess(tmp_path / "data") as stopped:
        token = stopped.add_user("gone@example.org")
        url = stopped.url
    with pytest.raises(ServerError, match=f"cannot reach the evaluation server at {url}"):
        upload(url, token, MODEL, "nli", archive, progress=False, root=project, session=quick_session)
    with pytest.raises(ServerError, match=url):
        api.fetch_tasks(url, session=quick_session)


def test_a_server_that_says_when_in_seconds_is_shown_in_hours_and_minutes():
    """A server that only sends text (no limit and hours fields): its seconds are made readable."""
    answer = requests.Response()
    answer.status_code = 429
    answer.headers["Retry-After"] = "86340"
    answer._content = b'{"detail": "upload limit reached; the next slot opens in 86340 seconds"}'
    error = api.throttled(answer, api.server_detail(answer))
    assert str(error) == "upload limit reached; the next slot opens in 23 h 59 min"
    assert "in 23 h 59 min" in error.hint and "second" not in error.hint


def test_once_the_archive_is_sent_the_client_says_the_server_is_verifying_it(server, user_token, archive, project):
    """A proxy holds the server's answer back until the client has said so: the line comes while it waits."""
    said = threading.Event()

    def out(line):
        notices.append(line)
        if "the server is verifying the archive" in line:
            said.set()

    notices = []
    with FlakyProxy(server.url, failures=0, hold_posts=said) as proxy:
        receipt = upload(proxy.url, user_token, MODEL, "nli", archive, progress=False, root=project, out=out)
    assert proxy.held == [True], "the answer came before the client said the server was verifying"
    assert notices == [f"Sent {archive.stat().st_size} B; the server is verifying the archive (the bigger, the longer)..."]
    assert receipt.sha256 == sha256(archive)
