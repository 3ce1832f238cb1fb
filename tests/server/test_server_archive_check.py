"""The archive checker on its own: link tricks that need the whole archive to see."""

import tarfile

import pytest

from server_support import config, member, tar_gz

from dynalab.server.archive_check import ArchiveRejected, check_archive

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
