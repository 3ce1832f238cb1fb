"""The file rules every part shares: a path inside a root, and a file replaced in one step."""

import os
import stat

import pytest

from dynalab.files import atomic_write_text, is_inside, relative_inside, replacing, sha256_file


def test_a_path_is_inside_its_root_whatever_its_spelling(tmp_path):
    root = tmp_path / "root"
    assert relative_inside(root / "a" / "b.txt", root) == "a/b.txt"
    assert relative_inside(root / "a" / ".." / "c", root) == "c"
    assert relative_inside(root, root) == "."
    assert relative_inside(tmp_path / "root-sibling" / "x", root) is None, "a common prefix is not a parent"
    assert relative_inside(root / ".." / "elsewhere", root) is None
    assert is_inside(str(root / "x"), str(root)) and not is_inside("/", root)


def test_a_replaced_file_is_whole_or_untouched(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("before\n")
    with pytest.raises(RuntimeError):
        with replacing(path) as partial:
            with open(partial, "w") as file:
                file.write("half")
            raise RuntimeError("the disk is full")
    assert path.read_text() == "before\n"
    assert os.listdir(tmp_path) == ["config.yaml"], "no temporary file is left behind"
    atomic_write_text(path, "after\n")
    assert path.read_text() == "after\n" and os.listdir(tmp_path) == ["config.yaml"]


def test_a_private_file_is_private_from_its_first_byte(tmp_path):
    path = tmp_path / "secrets.json"
    with replacing(path, mode=0o600) as partial:
        assert stat.S_IMODE(os.stat(partial).st_mode) == 0o600
        with open(partial, "w") as file:
            file.write("{}")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_the_digest_of_a_file_is_its_sha256(tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(b"abc")
    assert sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
