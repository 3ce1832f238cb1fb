"""Connections: slow or silent clients are cut off, their number is capped, and a body
announced too big is refused before it is read."""

import os
import socket
import time

from server_support import MODEL, Api, RawUpload, closed_by_peer, leftovers, model_archive, read_answer, wait_for


def connect(server, timeout=10):
    host, port = server.url.rsplit("/", 1)[1].rsplit(":", 1)
    return socket.create_connection((host, int(port)), timeout=timeout)


def test_connections_that_never_finish_their_headers_are_closed(start_server):
    server = start_server("--header-timeout", "1")
    slow = [connect(server) for _ in range(50)]
    for i, sock in enumerate(slow):
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" if i % 2 else b"")  # half a head, or nothing
    started = time.monotonic()
    try:
        assert all(closed_by_peer(sock) for sock in slow)
        assert time.monotonic() - started < 5
    finally:
        for sock in slow:
            sock.close()
    assert "no complete request head within 1.0 s" in server.log()
    assert Api(server.url).get("/health").status_code == 200


def test_a_head_sent_a_byte_at_a_time_does_not_buy_more_time(start_server):
    server = start_server("--header-timeout", "1")
    with connect(server) as sock:
        started = time.monotonic()
        request = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
        sent = 0
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert closed_by_peer(sock)
        assert time.monotonic() - started < 3 and sent < len(request)


def test_an_upload_whose_body_goes_silent_is_cut_one_slow_but_steady_is_not(start_server):
    server = start_server("--body-timeout", "1")
    api = Api(server.url)
    bearer = api.bearer(server.add_user("silent@example.org"))
    archive = model_archive(MODEL, "nli", os.urandom(2_000_000))
    with RawUpload(server.url, bearer, len(archive)) as upload:
        upload.send(archive[:1_000_000])
        assert wait_for(lambda: leftovers(server) != [])
        # ... then nothing more: the server gives up on it.
        assert closed_by_peer(upload.socket)
    assert wait_for(lambda: leftovers(server) == [])
    assert "its request body sent nothing for 1.0 s" in server.log()
    assert api.models(bearer).json() == []

    with RawUpload(server.url, bearer, len(archive)) as upload:
        for start in range(0, len(archive), 250_000):  # about 3 s in all, never silent for 1 s
            upload.send(archive[start:start + 250_000])
            time.sleep(0.4)
        upload.finish()
        status, body = upload.answer()
    assert status == 200, body


def test_connections_past_the_limit_get_503(start_server):
    server = start_server("--max-connections", "5", "--header-timeout", "2")
    idle = [connect(server) for _ in range(5)]
    try:
        time.sleep(0.3)
        with connect(server) as extra:
            extra.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            status, body = read_answer(extra)
        assert status == 503 and body == "Service Unavailable"
    finally:
        for sock in idle:
            sock.close()
    assert wait_for(lambda: Api(server.url).get("/health").status_code == 200)


def test_a_body_announced_over_the_limit_is_refused_before_it_is_sent(start_server):
    server = start_server("--max-upload-bytes", "1000000")
    bearer = Api(server.url).bearer(server.add_user("huge@example.org"))
    with connect(server) as sock:
        # Only the head: were the server waiting for the 10 GB body, no answer would come.
        sock.sendall(f"POST /models/upload/s3 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {bearer}\r\n"
                     "Content-Type: multipart/form-data; boundary=b\r\n"
                     f"Content-Length: {10 * 1024**3}\r\n\r\n".encode())
        status, body = read_answer(sock)
        assert status == 413 and "larger than the server's limit of 1000000 bytes" in body
        assert closed_by_peer(sock)
    with connect(server) as sock:  # nor is the body of an upload without a valid bearer token
        sock.sendall(f"POST /models/upload/s3 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer forged\r\n"
                     f"Content-Length: {10 * 1024**3}\r\n\r\n".encode())
        assert read_answer(sock)[0] == 401
        assert closed_by_peer(sock)
    assert leftovers(server) == []
