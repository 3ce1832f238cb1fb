"""Limits: archive size, interrupted uploads, and the upload quota (which survives a restart)."""

import os
import sqlite3
from datetime import datetime, timedelta, timezone

from server_support import MODEL, Api, RawUpload, leftovers, model_archive, wait_for


def upload_records(server):
    with sqlite3.connect(server.data_dir / "dynalab.sqlite3") as db:
        return db.execute("select count(*) from uploads").fetchone()[0]


def test_an_oversize_archive_gets_413_and_leaves_nothing(start_server):
    server = start_server("--max-upload-bytes", "20000")
    api = Api(server.url)
    bearer = api.bearer(server.add_user("big@example.org"))
    just_over = model_archive(MODEL, "nli", os.urandom(21000))  # random: gzip cannot shrink it
    response = api.upload(bearer, just_over)
    assert response.status_code == 413
    assert "larger than the server's limit of 20000 bytes" in response.json()["detail"]
    far_over = model_archive(MODEL, "nli", os.urandom(5_000_000))  # refused from its Content-Length
    assert api.upload(bearer, far_over).status_code == 413
    assert leftovers(server) == [] and upload_records(server) == 0
    assert api.upload(bearer, model_archive()).status_code == 200


def test_an_interrupted_upload_leaves_no_file_and_no_record(running_server):
    api = Api(running_server.url)
    bearer = api.bearer(running_server.add_user("cut@example.org"))
    archive = model_archive(MODEL, "nli", os.urandom(3_000_000))
    with RawUpload(running_server.url, bearer, len(archive)) as upload:
        upload.send(archive[:2_000_000])
        # The upload is streamed to disk as it arrives ...
        assert wait_for(lambda: any(p.stat().st_size > 0 for p in leftovers(running_server)))
    # ... and removed when the client goes away.
    assert wait_for(lambda: leftovers(running_server) == [])
    assert upload_records(running_server) == 0
    assert api.models(bearer).json() == []
    assert "interrupted" in running_server.log()


def test_the_fourth_upload_in_a_day_is_refused_even_after_a_restart(running_server):
    api = Api(running_server.url)
    api_token = running_server.add_user("busy@example.org")
    bearer = api.bearer(api_token)
    for i in range(3):
        response = api.upload(bearer, model_archive(MODEL, "nli", f"version {i}".encode()))
        assert response.status_code == 200, response.text
    refused = api.upload(bearer, model_archive())
    assert refused.status_code == 429
    body = refused.json()
    assert "at most 3 uploads per 24 hours" in body["detail"]
    assert "next slot opens at" in body["detail"]
    assert "(in 23 h 59 min)" in body["detail"] and "seconds" not in body["detail"]
    next_slot = datetime.fromisoformat(body["next_slot"])
    expected = datetime.now(timezone.utc) + timedelta(hours=24)
    assert abs((next_slot - expected).total_seconds()) < 60
    assert 23 * 3600 < int(refused.headers["Retry-After"]) <= 24 * 3600
    assert body["retry_after"] == int(refused.headers["Retry-After"])

    running_server.restart()
    api = Api(running_server.url)
    bearer = api.bearer(api_token)
    again = api.upload(bearer, model_archive())
    assert again.status_code == 429 and "at most 3 uploads per 24 hours" in again.json()["detail"]
    # The quota is per task: another task still has its slots.
    assert api.upload(bearer, model_archive(MODEL, "sentiment"), task="sentiment").status_code == 200
    assert upload_records(running_server) == 4


def test_a_refused_upload_costs_no_quota(running_server):
    api = Api(running_server.url)
    bearer = api.bearer(running_server.add_user("careful@example.org"))
    for _ in range(3):
        assert api.upload(bearer, b"not an archive").status_code == 400
    for i in range(3):
        assert api.upload(bearer, model_archive(MODEL, "nli", bytes([i]))).status_code == 200


def test_a_quota_set_by_the_administrator_applies_at_once(running_server):
    api = Api(running_server.url)
    bearer = api.bearer(running_server.add_user("quota@example.org"))
    running_server.cli("set-quota", "nli", "--threshold", "1", "--hours", "2")
    assert api.upload(bearer, model_archive()).status_code == 200
    refused = api.upload(bearer, model_archive())
    assert refused.status_code == 429 and "at most 1 uploads per 2 hours" in refused.json()["detail"]
    running_server.cli("set-quota", "nli", "--threshold", "0", "--hours", "24")
    closed = api.upload(bearer, model_archive())
    assert closed.status_code == 403 and "accepts no uploads" in closed.json()["detail"]
