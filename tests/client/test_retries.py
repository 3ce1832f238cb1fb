"""What is sent again, and what never is: 5xx answers, a gateway, a broken connection."""

import os
import socket
import struct
import threading
import time

import pytest

from dynalab.client import api
from dynalab.client.session import USER_AGENT, make_session
from dynalab.client.upload import upload
from dynalab.errors import ServerError

from client_support import MODEL, make_archive
from flaky_proxy import FlakyProxy


def test_a_request_is_retried_after_two_503_answers(server):
    with FlakyProxy(server.url, failures=2, status=503) as proxy:
        tasks = api.fetch_tasks(proxy.url)
    assert "nli" in [task["task_code"] for task in tasks]
    assert [method for method, _, _ in proxy.seen] == ["GET", "GET", "GET"]


def test_a_server_that_keeps_failing_is_a_server_error_naming_it(server):
    with FlakyProxy(server.url, failures=100, status=500) as proxy:
        with pytest.raises(ServerError, match=rf"{proxy.url} failed \(HTTP 500: upstream is restarting\)"):
            api.fetch_tasks(proxy.url, session=make_session(retries=2, backoff=0))
    assert len(proxy.seen) == 3


def test_an_upload_answered_502_by_a_gateway_is_sent_again_in_full(server, user_token, archive, project):
    size = archive.stat().st_size
    with FlakyProxy(server.url, failures=2, status=502, methods=("POST",)) as proxy:
        notices = []
        receipt = upload(proxy.url, user_token, MODEL, "nli", archive, progress=False, root=project, out=notices.append)
    posts = [length for method, _, length in proxy.seen if method == "POST"]
    assert len(posts) == 3 and all(length > size for length in posts)  # the whole body, each time
    assert receipt.size == size
    retries = [notice for notice in notices if "verifying" not in notice]
    assert len(retries) == 2 and "HTTP 502" in retries[0]
    assert sum("the server is verifying the archive" in notice for notice in notices) == 3  # once per post


def test_an_upload_the_server_stored_behind_a_gateway_timeout_is_not_sent_again(server, user_token, archive, project):
    with FlakyProxy(server.url, failures=1, status=504, methods=("POST",), forward_failures=True) as proxy:
        notices = []
        receipt = upload(proxy.url, user_token, MODEL, "nli", archive, progress=False, root=project, out=notices.append)
    assert [method for method, _, _ in proxy.seen].count("POST") == 1
    assert [notice for notice in notices if "verifying" not in notice] == []  # no retry notice
    assert [model["model_id"] for model in api.list_models(server.url, user_token)] == [receipt.model_id]
    assert (project / ".dynalab_submissions").is_dir()


def test_an_upload_answered_500_is_not_sent_again(server, user_token, archive, project):
    with FlakyProxy(server.url, failures=1, status=500, methods=("POST",)) as proxy:
        with pytest.raises(ServerError, match="HTTP 500"):
            upload(proxy.url, user_token, MODEL, "nli", archive, progress=False, root=project)
    assert [method for method, _, _ in proxy.seen].count("POST") == 1
    assert not (project / ".dynalab_submissions").exists()


def test_an_upload_cut_off_half_way_is_not_sent_again(server, user_token, project, monkeypatch):
    """A server that reads the start of the body, then resets the connection: one attempt, a clear error."""
    archive = make_archive(project / "big.tar.gz", payload=os.urandom(8 * 1024 * 1024))
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    attempts = []

    def serve():
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            request = connection.recv(65536)
            if _answered_404(connection, request):
                continue
            attempts.append(request)
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()  # with linger 0: a reset, half way through the body

    threading.Thread(target=serve, daemon=True).start()
    # The bearer token comes from the real server; the upload goes to the one that breaks.
    real_bearer = api.bearer
    monkeypatch.setattr(api, "bearer", lambda url, token, session=None: real_bearer(server.url, token, session=session))
    broken = f"http://127.0.0.1:{port}"
    try:
        with pytest.raises(ServerError, match=f"the upload to {broken} was interrupted"):
            upload(broken, user_token, MODEL, "nli", archive, progress=False, root=project)
    finally:
        listener.close()
    assert len(attempts) == 1 and attempts[0].startswith(b"POST /models/upload/s3")
    assert not (project / ".dynalab_submissions").exists()


def test_an_upload_with_no_answer_is_not_sent_again_and_may_have_arrived(server, user_token, archive, project, monkeypatch):
    """A server that reads the whole body and never answers: one attempt, and a warning not to resend blindly."""
    listener = socket.create_server(("127.0.0.1", 0))
    received = []

    def serve():
        while True:
            connection, _ = listener.accept()
            connection.settimeout(10)
            data = connection.recv(65536)
            if not _answered_404(connection, data):
                break
        while b"\r\n\r\n" not in data:
            data += connection.recv(65536)
        head, body = data.split(b"\r\n\r\n", 1)
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += connection.recv(65536)
        received.append(len(body))
        time.sleep(3)  # silence past the client's read timeout
        connection.close()

    threading.Thread(target=serve, daemon=True).start()
    real_bearer = api.bearer
    monkeypatch.setattr(api, "bearer", lambda url, token, session=None: real_bearer(server.url, token, session=session))
    monkeypatch.setattr("dynalab.client.upload.UPLOAD_TIMEOUT", (1, 1))
    silent = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with pytest.raises(ServerError, match="received the whole archive but did not answer") as caught:
            upload(silent, user_token, MODEL, "nli", archive, progress=False, root=project)
    finally:
        listener.close()
    assert "may have accepted it" in caught.value.hint
    assert len(received) == 1


def test_requests_carry_our_user_agent(server):
    with FlakyProxy(server.url, failures=0) as proxy:
        api.fetch_tasks(proxy.url)
    assert proxy.user_agents == [USER_AGENT] and USER_AGENT.startswith("dynalab/")


def test_a_proxy_from_the_environment_is_not_used_for_a_server_on_loopback(server, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert api.fetch_tasks(server.url, session=make_session(retries=0))


def _answered_404(connection, request):
    """Answer anything but the upload with 404, as a server that cannot list models would."""
    if request.startswith(b"POST"):
        return False
    connection.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    connection.close()
    return True
