"""Uploads: accepted ones are stored and recorded; refused ones leave nothing behind."""

import hashlib
import os
import tarfile

import pytest

from server_support import MODEL, Api, config, leftovers, member, model_archive, tar_gz


def test_an_upload_is_stored_by_content_and_its_status_can_be_read(user, shared_server):
    api_token, api = user
    bearer = api.bearer(api_token)
    archive = model_archive()
    response = api.upload(bearer, archive)
    assert response.status_code == 200, response.text
    receipt = response.json()
    digest = hashlib.sha256(archive).hexdigest()
    assert receipt["sha256"] == digest and receipt["size"] == len(archive)
    assert (receipt["name"], receipt["task_code"], receipt["status"]) == (MODEL, "nli", "queued")
    blob = shared_server.data_dir / "blobs" / digest[:2] / f"{digest}.tar.gz"
    assert blob.read_bytes() == archive
    status = api.model(bearer, receipt["model_id"])
    assert status.status_code == 200 and status.json().items() >= receipt.items()
    assert api.models(bearer).json() == [receipt]


def test_a_model_is_visible_to_its_owner_only(user, shared_server):
    api_token, api = user
    model_id = api.upload(api.bearer(api_token), model_archive()).json()["model_id"]
    stranger = api.bearer(shared_server.add_user("stranger@example.org"))
    assert api.model(stranger, model_id).status_code == 404
    assert api.model(stranger, 999999).status_code == 404
    assert api.models(stranger).json() == []


def test_the_same_content_twice_is_stored_once(user, shared_server):
    api_token, api = user
    bearer = api.bearer(api_token)
    archive = model_archive(MODEL, "nli", b"same content")
    first, second = api.upload(bearer, archive).json(), api.upload(bearer, archive).json()
    assert first["model_id"] != second["model_id"] and first["sha256"] == second["sha256"]
    assert len(list((shared_server.data_dir / "blobs").rglob(f"{first['sha256']}*"))) == 1


def test_an_archive_packaged_by_the_client_is_accepted(user, client_archive):
    # Its checkpoint is stored in a gzip member of its own, which the check reads at
    # network speed (tarfile's stream mode read it at a few hundred KB/s).
    archive = client_archive(24 * 1024 * 1024)
    api_token, api = user
    with open(archive, "rb") as stream:
        response = api.upload(api.bearer(api_token), stream)
    assert response.status_code == 200, response.text
    assert response.json()["size"] == archive.stat().st_size


def test_an_id_too_big_for_the_database_is_not_found(user):
    api_token, api = user
    response = api.model(api.bearer(api_token), 99999999999999999999999)
    assert response.status_code == 404
    assert response.json()["detail"] == "you have no uploaded model with id 99999999999999999999999"


@pytest.mark.parametrize("archive", [
    pytest.param(tar_gz(config(prefix="project/")), id="under-one-folder"),
    pytest.param(tar_gz(config(legacy=True), member("handler.py", b"")), id="legacy-setup-config"),
    pytest.param(tar_gz(config(), member("weights", b"w"), member("link", kind=tarfile.SYMTYPE, linkname="weights"),
                        member("sub/same", kind=tarfile.LNKTYPE, linkname="weights")), id="links-inside"),
])
def test_accepted_layouts(user, archive):
    api_token, api = user
    response = api.upload(api.bearer(api_token), archive)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("archive, name, task, reason", [
    (b"plain text, not gzip", MODEL, "nli", "not gzip-compressed"),
    (model_archive()[:-30], MODEL, "nli", "truncated"),
    (tar_gz(member("handler.py", b"")), MODEL, "nli", ".dynalab/m/config.yaml"),
    (model_archive("other"), MODEL, "nli", ".dynalab/m/config.yaml"),
    (model_archive(), "Bad_Name", "nli", "not a valid model name"),
    (model_archive(), MODEL, "nope", "unknown task 'nope'"),
    (model_archive(MODEL, "sentiment"), MODEL, "nli", "for task 'sentiment'"),
    (tar_gz(config(), member("/etc/evil", b"x")), MODEL, "nli", "absolute path"),
    (tar_gz(config(), member("dev", kind=tarfile.CHRTYPE)), MODEL, "nli", "device or fifo"),
    (tar_gz(config(), member("pipe", kind=tarfile.FIFOTYPE)), MODEL, "nli", "device or fifo"),
    (tar_gz(config(), member("up", kind=tarfile.SYMTYPE, linkname="../../etc")), MODEL, "nli", "links outside"),
    (tar_gz(config(), member("abs", kind=tarfile.SYMTYPE, linkname="/etc/passwd")), MODEL, "nli", "absolute path"),
    (tar_gz(config(), member("hard", kind=tarfile.LNKTYPE, linkname="../outside")), MODEL, "nli", "'..'"),
    (tar_gz(config(), member("d", kind=tarfile.SYMTYPE, linkname="."), member("d/x", b"")), MODEL, "nli",
     "under the symbolic link"),
    (tar_gz(config(), member("caf\udce9.bin", b"x")), MODEL, "nli",
     "archive member 'caf\\xe9.bin' has a name that is not UTF-8"),
    (tar_gz(member(f".dynalab/{MODEL}/config.yaml", b"- task: nli\n")), MODEL, "nli",
     "expected a mapping of settings, found list"),
    (tar_gz(member(f".dynalab/{MODEL}/config.yaml", b"handler: handler.py\ncheckpoint: model.pt\n")), MODEL,
     "nli", "field `task`: required field"),
], ids=["not-gzip", "truncated", "no-config", "other-model", "bad-name", "unknown-task", "task-mismatch",
        "absolute", "char-device", "fifo", "symlink-escape", "symlink-absolute", "hardlink-escape",
        "through-symlink", "not-utf8-name", "config-a-list", "config-without-task"])
def test_bad_uploads_are_refused_with_the_reason_and_leave_nothing(user, shared_server, archive, name, task, reason):
    api_token, api = user
    bearer = api.bearer(api_token)
    before = leftovers(shared_server)
    response = api.upload(bearer, archive, name=name, task=task)
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]
    assert leftovers(shared_server) == before
    assert api.models(bearer).json() == []


def test_a_traversal_archive_writes_nothing_outside_the_data_dir(start_server, tmp_path):
    data_dir = tmp_path / "a" / "b" / "data"
    server = start_server(data_dir=data_dir)
    api = Api(server.url)
    bearer = api.bearer(server.add_user("mallory@example.org"))

    def outside():
        return {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if data_dir not in p.parents and p != data_dir}

    before = outside()
    archive = tar_gz(config(), member("../../evil", b"pwned"), member("../../../../../../tmp/evil-dynalab", b"x"))
    response = api.upload(bearer, archive)
    assert response.status_code == 400
    assert "'..' component" in response.json()["detail"]
    assert outside() == before
    assert not (tmp_path / "a" / "evil").exists() and not os.path.exists("/tmp/evil-dynalab")
    assert leftovers(server) == []
    assert api.models(bearer).json() == []


def test_a_form_without_the_file_or_fields_is_refused(user):
    api_token, api = user
    bearer = {"Authorization": f"Bearer {api.bearer(api_token)}"}
    no_file = api.http.post(api.url + "/models/upload/s3", headers=bearer, files={"name": (None, "m")})
    assert no_file.status_code == 400 and "no file field `tarball`" in no_file.json()["detail"]
    no_name = api.http.post(api.url + "/models/upload/s3", headers=bearer,
                            files={"taskCode": (None, "nli"), "tarball": ("m.tar.gz", model_archive())})
    assert no_name.status_code == 400 and "missing form field `name`" in no_name.json()["detail"]
    not_multipart = api.http.post(api.url + "/models/upload/s3", headers=bearer, json={"name": "m"})
    assert not_multipart.status_code == 400 and "multipart/form-data" in not_multipart.json()["detail"]
