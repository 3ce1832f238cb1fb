"""``dynalab-server add-dataset``, ``list-datasets`` and ``remove-dataset``, run as an administrator would."""

import json
import os
import subprocess

import pytest
from dataset_support import nli_lines, write_jsonl

from dynalab.testing.server_process import ServerProcess


@pytest.fixture
def admin(tmp_path):
    """``admin(*args)``: run ``dynalab-server ARGS --data-dir DIR`` (no server needed)."""
    return ServerProcess(tmp_path / "data").cli


@pytest.fixture
def datasets_dir(tmp_path):
    return tmp_path / "data" / "datasets"


def files_in(folder):
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def assert_refused(result, first_line, exit_code=2):
    assert result.returncode == exit_code, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == f"dynalab-server: error: {first_line}"


def test_a_dataset_is_stored_under_its_sha256_and_listed(admin, tmp_path, datasets_dir):
    source = write_jsonl(tmp_path / "dev.jsonl", nli_lines(3))
    result = admin("add-dataset", "--task", "nli", "--name", "dev", str(source))
    assert result.returncode == 0, result.stderr
    sha256 = result.stdout.split("(sha256 ")[1].split(")")[0]
    assert result.stdout.splitlines() == [
        f"Added dataset dev to task nli: 3 examples, access scoring, weight 5 (sha256 {sha256}).",
        "No model of task nli is deployed yet; models are evaluated on it once deployed.",
    ]
    assert files_in(datasets_dir) == [f"{sha256}.jsonl"]
    assert [json.loads(line)["uid"] for line in (datasets_dir / f"{sha256}.jsonl").read_text().splitlines()] == \
        ["ex-0", "ex-1", "ex-2"]

    hidden = write_jsonl(tmp_path / "test.jsonl", nli_lines(2, start=10))
    assert admin("add-dataset", str(hidden), "--task", "nli", "--name", "test", "--access", "hidden",
                 "--weight", "2.5").returncode == 0
    listing = admin("list-datasets").stdout.splitlines()
    assert [line.split("\t")[:6] for line in listing] == [
        ["nli", "dev", "scoring", "weight 5", "3 examples", "no evaluations"],
        ["nli", "test", "hidden", "weight 2.5", "2 examples", "no evaluations"],
    ]
    assert listing[0].split("\t")[6] == sha256
    assert admin("list-datasets", "--task", "qa").stdout.startswith("No datasets for task qa yet")


def test_a_file_with_bad_lines_is_refused_whole_with_every_problem(admin, tmp_path, datasets_dir):
    lines = nli_lines(4)
    lines[1]["label"] = "maybe"
    del lines[3]["hypothesis"]
    source = write_jsonl(tmp_path / "bad.jsonl", lines)
    result = admin("add-dataset", "--task", "nli", "--name", "dev", str(source))
    assert_refused(result, f"{source}: 2 problems, nothing was stored:")
    assert result.stderr.splitlines()[1:] == [
        "  line 2: label = 'maybe': not one of entailed, neutral, contradictory; "
        "give one of entailed, neutral, contradictory",
        "  line 4: hypothesis is missing: an input of the task; give a string",
        "dynalab-server: hint: a line is one JSON object with uid, context, hypothesis and label; "
        "fix the lines above and run the command again",
    ]
    assert files_in(datasets_dir) == []
    assert files_in(tmp_path / "data" / "tmp") == []
    assert admin("list-datasets").stdout.startswith("No datasets yet")


def test_the_same_content_twice_is_one_file_removed_with_its_last_dataset(admin, tmp_path, datasets_dir):
    source = write_jsonl(tmp_path / "dev.jsonl", nli_lines(3))
    for name in ("dev", "dev-copy"):
        assert admin("add-dataset", "--task", "nli", "--name", name, str(source)).returncode == 0
    assert len(files_in(datasets_dir)) == 1
    removed = admin("remove-dataset", "--task", "nli", "--name", "dev")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout == "Removed dataset dev of task nli and its 0 evaluations.\n"
    assert len(files_in(datasets_dir)) == 1  # dev-copy still uses it
    assert admin("remove-dataset", "--task", "nli", "--name", "dev-copy").returncode == 0
    assert files_in(datasets_dir) == []
    assert_refused(admin("remove-dataset", "--task", "nli", "--name", "dev"), "task nli has no dataset 'dev'")


def test_bad_arguments_are_one_line_errors(admin, tmp_path):
    source = write_jsonl(tmp_path / "dev.jsonl", nli_lines(2))
    add = ("add-dataset", str(source))
    assert_refused(admin(*add, "--task", "nope", "--name", "dev"), "unknown task 'nope' (known: flores_full, "
                   "flores_small1, flores_small2, hs, nli, qa, sentiment, vqa)")
    assert_refused(admin(*add, "--task", "nli", "--name", "my dev"), "dataset name 'my dev' is not usable")
    for weight in ("0", "-1", "nan"):
        assert_refused(admin(*add, "--task", "nli", "--name", "dev", "--weight", weight),
                       f"--weight {float(weight)}: must be a number above 0")
    assert_refused(admin("add-dataset", str(tmp_path / "nowhere.jsonl"), "--task", "nli", "--name", "dev"),
                   f"cannot read {tmp_path / 'nowhere.jsonl'}: No such file or directory")
    assert_refused(admin("add-dataset", str(tmp_path), "--task", "nli", "--name", "dev"),
                   f"cannot read {tmp_path}: Is a directory")
    assert admin(*add, "--task", "nli", "--name", "dev").returncode == 0
    duplicate = admin(*add, "--task", "nli", "--name", "dev")
    assert_refused(duplicate, "task nli already has a dataset 'dev'")
    assert "remove-dataset --task nli --name dev" in duplicate.stderr
    wrong_access = admin(*add, "--task", "nli", "--name", "dev2", "--access", "public")
    assert wrong_access.returncode == 2 and "invalid choice: 'public'" in wrong_access.stderr


def test_a_large_file_is_checked_as_a_stream(admin, tmp_path):
    """Adding a 120 MB file takes about as much memory as adding a 1 MB one: lines are read one at a time."""
    def peak_rss_mb(lines, name):
        source = tmp_path / f"{name}.jsonl"
        with open(source, "w") as file:
            for line in lines:
                file.write(json.dumps(line) + "\n")
        command = ServerProcess(tmp_path / "data").command("add-dataset", "--data-dir", str(tmp_path / "data"),
                                                           "--task", "nli", "--name", name, str(source))
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   env={**os.environ, "PYTHONPATH": os.environ["PYTHONPATH"]})
        _, status, usage = os.wait4(process.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, process.stderr.read()
        process.wait()
        return usage.ru_maxrss / 1024, source.stat().st_size / 1024**2

    context = "a person is reading a book in the garden " * 25

    def examples(count):
        for i in range(count):
            yield {"uid": f"ex-{i}", "context": f"{context}{i}", "hypothesis": "someone reads.", "label": "neutral"}

    small, small_size = peak_rss_mb(examples(1000), "small")
    large, large_size = peak_rss_mb(examples(110_000), "large")
    assert large_size > 100
    # The uids of the examples are held (to find duplicates): a few MB for 110,000.
    assert large - small < 30, f"peak RSS {small:.0f} MB for {small_size:.0f} MB, {large:.0f} MB for {large_size:.0f} MB"
