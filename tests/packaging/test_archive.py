"""The submission archive: content, determinism, big weights, reuse, symlinks."""

import gzip
import os
import subprocess
import tarfile

import pytest

from dynalab.errors import ConfigError
from dynalab.packaging import build_archive, list_package_files

NAME = "m"
CONFIG = {"task": "nli", "exclude": ["data", "notes/*.tmp"]}


@pytest.fixture
def project(tmp_path):
    """A project with every kind of file the rules decide about."""
    root = tmp_path / "project"
    files = {
        "handler.py": "def handle(data, context):\n    return None\n",
        "model.pt": "0.5\n",
        "src/pkg/__init__.py": "",
        "src/pkg/__pycache__/x.cpython-311.pyc": "bytecode",
        "src/stale.pyc": "bytecode",
        "data/train.jsonl": "{}\n",
        "notes/draft.tmp": "",
        "notes/keep.md": "kept\n",
        ".git/HEAD": "ref: refs/heads/main\n",
        ".dynalab/m/config.yaml": "task: nli\n",
        ".dynalab/m/state.yaml": "steps: {}\n",
        ".dynalab/m/logs/local-test.log": "log\n",
        ".dynalab/other/config.yaml": "task: qa\n",
        ".dynalab/nli.json": "{}\n",
        ".dynalab/qa.json": "{}\n",
        ".dynalab_submissions/old-m.tar.gz": "old",
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    os.chmod(root / "handler.py", 0o750)
    return root


def build(root, out=None, **kwargs):
    out = out or root / ".dynalab" / NAME / "build" / f"{NAME}.tar.gz"
    return build_archive(root, NAME, CONFIG, out, **kwargs)


def test_content_follows_the_packaging_rules(project):
    assert list_package_files(project, NAME, CONFIG) == [
        ".dynalab/m/config.yaml",
        ".dynalab/nli.json",
        "handler.py",
        "model.pt",
        "notes/keep.md",
        "src/pkg/__init__.py",
    ]


def test_archive_is_read_by_gnu_tar_with_normalised_metadata(project, tmp_path):
    info = build(project)
    listing = subprocess.run(["tar", "-tzvf", str(info.path)], capture_output=True, text=True, check=True).stdout
    assert [line.split()[-1] for line in listing.splitlines()] == info.files
    with tarfile.open(info.path) as archive:
        members = {member.name: member for member in archive.getmembers()}
    assert members["handler.py"].mode == 0o755 and members["model.pt"].mode == 0o644
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members.values()} == {(0, 0, "", "", 0)}
    target = tmp_path / "unpacked"
    target.mkdir()
    subprocess.run(["tar", "-xzf", str(info.path), "-C", str(target)], check=True)
    assert (target / "notes" / "keep.md").read_text() == "kept\n"
    assert info.file_count == len(info.files) and info.size == info.path.stat().st_size


def test_same_files_give_the_same_bytes(project, tmp_path):
    first = build(project)
    os.utime(project / "handler.py", (1, 1))  # a touch changes no content
    second = build(project, out=tmp_path / "again.tar.gz")
    assert second.sha256 == first.sha256 and not second.reused
    assert (tmp_path / "again.tar.gz").read_bytes() == first.path.read_bytes()
    (project / "handler.py").write_text("# changed\n")
    assert build(project, out=tmp_path / "third.tar.gz").sha256 != first.sha256


def test_unchanged_project_reuses_the_archive(project):
    first = build(project)
    again = build(project)
    assert again.reused and again.sha256 == first.sha256
    (project / "model.pt").write_text("0.7\n")
    rebuilt = build(project)
    assert not rebuilt.reused and rebuilt.sha256 != first.sha256
    assert build(project, force=True).reused is False


def test_incompressible_weights_are_stored_and_text_is_compressed(project):
    (project / "weights.bin").write_bytes(os.urandom(3 << 20))
    (project / "corpus.txt").write_text("the same sentence again\n" * 200_000)  # 4.8 MB
    info = build(project)
    assert (3 << 20) < info.size < (3 << 20) + (200 << 10)
    with gzip.open(info.path) as stream:  # the concatenated gzip members read as one stream
        assert b"the same sentence again" in stream.read()


def test_symlink_outside_the_root_is_an_error_naming_it(project, tmp_path):
    (tmp_path / "secret.txt").write_text("outside")
    (project / "link.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(ConfigError) as caught:
        build(project)
    assert "link.txt" in str(caught.value) and "outside the project root" in str(caught.value)
    assert list_package_files(project, NAME, {**CONFIG, "exclude": ["link.txt"]})  # excluded: fine


def test_symlink_inside_the_root_is_stored_as_the_file(project):
    (project / "alias.md").symlink_to("notes/keep.md")
    (project / "loop").symlink_to(".")  # a link back to a folder being walked is not followed again
    info = build(project)
    with tarfile.open(info.path) as archive:
        member = archive.getmember("alias.md")
        assert member.isfile() and archive.extractfile(member).read() == b"kept\n"
    assert not any(name.startswith("loop/") for name in info.files)


def test_nothing_is_written_outside_dynalab(project):
    before = sorted(str(p) for p in project.rglob("*") if ".dynalab/" not in str(p) + "/")
    info = build(project)
    after = sorted(str(p) for p in project.rglob("*") if ".dynalab/" not in str(p) + "/")
    assert before == after
    assert info.path.parent == project / ".dynalab" / NAME / "build"
    assert not [p for p in info.path.parent.iterdir() if p.name.endswith(".partial")]


def test_big_weights_are_stored_whole_and_gnu_tar_unpacks_them(tmp_path):
    # How fast this is, against `tar -czf`, is measured by benchmarks/bench_integrated.py.
    root = tmp_path / "weights-project"
    root.mkdir()
    (root / "handler.py").write_text("")
    weights = os.urandom(64 << 20)  # above the size where a file gets a gzip member of its own
    (root / "model.pt").write_bytes(weights)
    info = build_archive(root, NAME, {"task": "nli", "exclude": []}, tmp_path / "ours.tar.gz")
    assert len(weights) < info.size < len(weights) + (1 << 20)
    target = tmp_path / "unpacked"
    target.mkdir()
    subprocess.run(["tar", "-xzf", str(info.path), "-C", str(target)], check=True)
    assert (target / "model.pt").read_bytes() == weights
