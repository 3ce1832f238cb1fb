"""The archive checker on its own: link tricks that need the whole archive to see, hostile
headers, and the bounds on what a check may cost."""

import io
import tarfile
import tracemalloc

import pytest

from server_support import config, gzip_stream, header, header_bomb, member, tar_gz, tar_gz_members_of, tiny_members

from dynalab.server.intake.archive_check import MAX_MEMBERS, ArchiveCheck, ArchiveRejected, check_archive

LIMIT = 10**9


def check(tmp_path, *members, limit=LIMIT):
    path = tmp_path / "upload.tar.gz"
    path.write_bytes(tar_gz(config(), *members))
    return check_archive(path, "m", "nli", limit)


def link(name, target, kind=tarfile.SYMTYPE):
    return member(name, kind=kind, linkname=target)


def test_a_chain_of_links_inside_the_archive_is_fine(tmp_path):
    summary = check(tmp_path, member("dir/file", b"x"), link("a", "dir"), link("b", "a/file"), link("dir/up", ".."))
    assert summary.config_path == ".dynalab/m/config.yaml"


def test_a_link_defined_later_cannot_make_an_earlier_one_escape(tmp_path):
    # d/t -> s/../.. looks harmless until d/s -> .. arrives: then d/t is the archive's parent.
    with pytest.raises(ArchiveRejected, match="links outside the archive"):
        check(tmp_path, link("d/t", "s/../.."), link("d/s", ".."))


def test_a_link_loop_is_refused(tmp_path):
    with pytest.raises(ArchiveRejected, match="too many levels"):
        check(tmp_path, link("a", "b"), link("b", "a"))


def test_a_gzip_bomb_is_refused_from_the_member_sizes(tmp_path):
    with pytest.raises(ArchiveRejected, match="unpacks to more than 1000 bytes"):
        check(tmp_path, member("zeros", bytes(5000)), limit=1000)


def test_the_config_must_be_a_regular_file(tmp_path):
    path = tmp_path / "upload.tar.gz"
    path.write_bytes(tar_gz(member("real.yaml", b"task: nli\n"), link(".dynalab/m/config.yaml", "../../real.yaml")))
    with pytest.raises(ArchiveRejected, match="must be a regular file"):
        check_archive(path, "m", "nli", LIMIT)


def test_a_config_that_is_not_yaml_is_refused(tmp_path):
    path = tmp_path / "upload.tar.gz"
    path.write_bytes(tar_gz(member(".dynalab/m/config.yaml", b"task: [unclosed\n")))
    with pytest.raises(ArchiveRejected, match="not valid YAML"):
        check_archive(path, "m", "nli", LIMIT)


def feed(archive, piece=64 * 1024, limit=LIMIT, **kwargs):
    """Push ``archive`` into an ``ArchiveCheck`` as the network would; returns the check."""
    check = ArchiveCheck(limit, **kwargs)
    for start in range(0, len(archive), piece):
        check.feed(archive[start:start + piece])
    return check


def test_an_archive_packaged_by_the_client_is_checked_as_it_arrives(client_archive):
    archive = client_archive(8 * 1024 * 1024).read_bytes()
    check = feed(archive)
    # The verdict needs nothing more once the last byte is in: no second read of the file.
    summary = check.finish().summary("m", "nli")
    assert summary.config_path == ".dynalab/m/config.yaml"
    assert summary.members == 3 and summary.unpacked_bytes > 8 * 1024 * 1024


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_long_names_in_every_tar_format_are_read(tmp_path, fmt):
    deep = "src/" + "/".join(["folder-with-a-long-name"] * 6) + "/weights.bin"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=fmt) as tar:
        for info, data in (config(), member(deep, b"w"), member("naïve.txt", b"x")):
            tar.addfile(info, io.BytesIO(data))
    (tmp_path / "upload.tar.gz").write_bytes(buffer.getvalue())
    assert check_archive(tmp_path / "upload.tar.gz", "m", "nli", LIMIT).members == 3


@pytest.mark.parametrize("kind, declared", [
    pytest.param(tarfile.GNUTYPE_LONGNAME, 2**30, id="gnu-long-name-1GB"),
    pytest.param(tarfile.GNUTYPE_LONGLINK, 2**30, id="gnu-long-link-1GB"),
    pytest.param(tarfile.XHDTYPE, 2**29, id="pax-512MB"),
    pytest.param(tarfile.XGLTYPE, 2**29, id="pax-global-512MB"),
])
def test_long_name_and_pax_headers_are_capped_before_they_are_read(kind, declared):
    archive = header_bomb(kind, declared)  # ~1 MB that unpacks to the declared size
    tracemalloc.start()
    try:
        with pytest.raises(ArchiveRejected, match=f"long-name or PAX header of {declared} bytes"):
            feed(archive)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024


def test_many_tiny_members_are_refused_at_the_members_limit():
    with pytest.raises(ArchiveRejected, match=f"more than {MAX_MEMBERS} members"):
        feed(tiny_members(MAX_MEMBERS + 10))


def test_a_compression_bomb_is_refused_by_its_expansion_ratio():
    bomb = gzip_stream(*tar_gz_members_of(config()), header("zeros", tarfile.REGTYPE, 2**30), 2**30, bytes(1024))
    with pytest.raises(ArchiveRejected, match="expands more than 500 times"):
        feed(bomb)


def test_checking_has_a_cpu_time_budget():
    with pytest.raises(ArchiveRejected, match="took more than 0.05 s of CPU time"):
        feed(tiny_members(50_000), max_cpu_seconds=0.05)


def test_links_that_would_take_too_long_to_follow_are_refused(tmp_path):
    deep = "/".join(["a"] * 2000)  # 2000 steps each, inside the archive
    with pytest.raises(ArchiveRejected, match="links take too long to follow"):
        check(tmp_path, *(link(f"l{i}", deep) for i in range(600)))


@pytest.mark.parametrize("members, reason", [
    ([member("\udcff-weights.bin", b"x")], r"archive member '\xff-weights.bin' has a name that is not UTF-8"),
    ([member("folder", kind=tarfile.DIRTYPE), (header("d", tarfile.DIRTYPE, 100), None)],
     "is a directory but declares 100 bytes"),
], ids=["not-utf8-name", "directory-with-data"])
def test_headers_two_readers_could_read_differently_are_refused(members, reason):
    blocks = []
    for info, data in members:
        blocks += [info] if data is None else tar_gz_members_of((info, data))
    with pytest.raises(ArchiveRejected) as refused:
        feed(gzip_stream(*tar_gz_members_of(config()), *blocks, bytes(100 * 512)))
    assert reason in str(refused.value)


def test_an_archive_without_its_end_marker_is_truncated():
    with pytest.raises(ArchiveRejected, match="ends before its end marker"):
        feed(gzip_stream(*tar_gz_members_of(config()))).finish()


@pytest.mark.parametrize("text, reason", [
    (b"- task: nli\n", "expected a mapping of settings, found list"),
    (b"checkpoint: model.pt\nhandler: handler.py\n", "field `task`: required field"),
    (b"task: nli\ncheckpoint: model.pt\nhandler: handler.py\nbatched: maybe\n", "field `batched` = 'maybe'"),
], ids=["a-list", "no-task", "bad-field"])
def test_the_config_is_validated_as_the_cli_validates_it(tmp_path, text, reason):
    path = tmp_path / "upload.tar.gz"
    path.write_bytes(tar_gz(member(".dynalab/m/config.yaml", text)))
    with pytest.raises(ArchiveRejected) as refused:
        check_archive(path, "m", "nli", LIMIT)
    assert reason in str(refused.value) and ".dynalab/m/config.yaml" in str(refused.value)


def test_a_legacy_json_config_is_validated_too(tmp_path):
    path = tmp_path / "upload.tar.gz"
    path.write_bytes(tar_gz(member(".dynalab/m/setup_config.json", b'["nli"]')))
    with pytest.raises(ArchiveRejected, match="expected a JSON object of settings"):
        check_archive(path, "m", "nli", LIMIT)
