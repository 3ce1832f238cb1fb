"""Uploads made to hurt the server: what each one costs it, and the answer it gets."""

import os
import subprocess
import threading

import pytest
import requests

from server_support import MODEL, Api, RawUpload, header_bomb, leftovers, model_archive, tiny_members, wait_for

from dynalab.server.intake.archive_check import MAX_MEMBERS


def peak_rss_mib(pid):
    """The process's peak resident memory so far (VmHWM), in MiB."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def in_parallel(calls):
    """Run the zero-argument ``calls`` in threads at once; return their results in order."""
    results = [None] * len(calls)

    def run(index):
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture(scope="module")
def long_name_bomb():
    return header_bomb(b"L", 2**30)  # ~1 MB, a GNU long name of 1 GB


@pytest.fixture(scope="module")
def pax_bomb():
    return header_bomb(b"x", 2**29)  # ~0.5 MB, a PAX header of 512 MB


def test_huge_long_name_and_pax_headers_cost_no_memory_even_several_at_once(running_server, long_name_bomb,
                                                                            pax_bomb):
    api = Api(running_server.url)
    bearers = [api.bearer(running_server.add_user(f"bomber{i}@example.org")) for i in range(4)]
    assert api.upload(bearers[0], model_archive()).status_code == 200  # the server has done real work once
    before = peak_rss_mib(running_server.pid)
    bombs = [long_name_bomb, pax_bomb] * 2
    answers = in_parallel([lambda b=b, bomb=bomb: api.upload(b, bomb) for b, bomb in zip(bearers, bombs)])
    for answer, declared in zip(answers, [2**30, 2**29] * 2):
        assert answer.status_code == 400
        assert f"long-name or PAX header of {declared} bytes" in answer.json()["detail"]
    after = peak_rss_mib(running_server.pid)
    assert after - before < 32, f"the server's peak memory grew from {before:.0f} to {after:.0f} MiB"
    assert len(leftovers(running_server)) == 1  # the accepted upload only


def test_many_tiny_members_are_refused_without_holding_the_server(running_server):
    api = Api(running_server.url)
    bearer = api.bearer(running_server.add_user("tiny@example.org"))
    archive = tiny_members(MAX_MEMBERS + 50_000)  # about 1 MB
    response = api.upload(bearer, archive)
    assert response.status_code == 400
    assert f"the archive has more than {MAX_MEMBERS} members" in response.json()["detail"]
    assert leftovers(running_server) == []


def test_a_user_may_have_two_uploads_in_progress_not_three(running_server):
    api = Api(running_server.url)
    bearer = api.bearer(running_server.add_user("eager@example.org"))
    archive = model_archive(MODEL, "nli", os.urandom(200_000))
    # Two uploads in progress, held open half-way ...
    with RawUpload(running_server.url, bearer, len(archive)) as first, \
            RawUpload(running_server.url, bearer, len(archive)) as second:
        first.send(archive[:100_000])
        second.send(archive[:100_000])
        assert wait_for(lambda: len(leftovers(running_server)) == 2)  # the server is receiving both
        third = api.upload(bearer, archive)
        assert third.status_code == 429
        assert "you have 2 uploads in progress already" in third.json()["detail"]
        # ... and another user is not held up by them.
        other = api.bearer(running_server.add_user("patient@example.org"))
        assert api.upload(other, archive).status_code == 200
        first.send(archive[100_000:])
        first.finish()
        assert first.answer()[0] == 200
    assert wait_for(lambda: not any((running_server.data_dir / "tmp").iterdir()))  # the second one went away
    assert api.upload(bearer, model_archive(MODEL, "nli", b"again")).status_code == 200


@pytest.fixture
def small_disk(tmp_path):
    """A data dir on a real 8 MB file system of its own (tmpfs), removed afterwards."""
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            raise RuntimeError("CI runs as root, to mount a small file system for the full-disk test")
        pytest.skip("mounting a small file system needs root")
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point / "data"
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_a_full_disk_is_a_507_that_keeps_nothing(start_server, small_disk):
    server = start_server(data_dir=small_disk)
    api = Api(server.url)
    bearer = api.bearer(server.add_user("full@example.org"))
    too_big_for_the_disk = model_archive(MODEL, "nli", os.urandom(12 * 1024 * 1024))
    response = api.upload(bearer, too_big_for_the_disk)
    assert response.status_code == 507, response.text
    detail = response.json()["detail"]
    assert "the server's disk is full" in detail and "the upload was not kept" in detail
    assert "Traceback" not in server.log()
    assert leftovers(server) == []
    assert api.models(bearer).json() == []
    # The room it took is free again: a small upload goes through.
    assert api.upload(bearer, model_archive()).status_code == 200


def test_the_client_gets_the_disk_full_answer_not_a_reset(start_server, small_disk):
    # requests sends the whole body before reading: the server must let it, then answer.
    server = start_server(data_dir=small_disk)
    api = Api(server.url)
    bearer = api.bearer(server.add_user("full2@example.org"))
    try:
        response = api.upload(bearer, model_archive(MODEL, "nli", os.urandom(20 * 1024 * 1024)))
    except requests.ConnectionError as error:
        pytest.fail(f"the connection was reset instead of answered: {error}")
    assert response.status_code == 507
