"""Dataset files: stored only when every line is valid, content-addressed, bounded, read back
for the jobs with the inputs apart from the targets."""

import hashlib
import json
import os
import threading

import pytest
from dataset_support import nli_lines, write_jsonl

from dynalab.errors import UsageError
from dynalab.server.datasets import DatasetStore, ExampleChecker, dataset_inputs, dataset_targets
from dynalab.server.datasets import store as store_module
from dynalab.tasks.registry import load_builtin

NLI = ExampleChecker(load_builtin("nli"))


@pytest.fixture
def store(tmp_path):
    return DatasetStore(tmp_path / "datasets")


@pytest.fixture
def add(store, tmp_path):
    """``add(lines)``: write them to a file and add it; returns the StoredDataset."""
    def add(lines, name="data.jsonl"):
        return store.add(write_jsonl(tmp_path / name, lines), NLI, tmp_path / "tmp")
    return add


def stored_files(store):
    return sorted(p.name for p in store.root.iterdir()) if store.root.exists() else []


def test_a_valid_file_is_stored_under_the_sha256_of_its_content(store, add, tmp_path):
    stored = add(nli_lines(3))
    assert stored.examples == 3
    path = store.path(stored.sha256)
    assert stored_files(store) == [path.name] == [f"{stored.sha256}.jsonl"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == stored.sha256
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_same_examples_written_differently_are_one_file(store, add, tmp_path):
    first = add(nli_lines(5))
    # Other key order, other spacing, a blank line, a byte-order mark: the same examples.
    lines = [json.dumps(dict(reversed(list(line.items()))), separators=(", ", " : ")) for line in nli_lines(5)]
    second = add(["\ufeff" + lines[0], *lines[1:3], "", *lines[3:]], name="again.jsonl")
    assert second == first
    assert stored_files(store) == [f"{first.sha256}.jsonl"]


def test_inputs_are_read_back_without_the_targets_in_the_file_s_order(store, add):
    dataset = type("Row", (), {"sha256": add(nli_lines(4)).sha256})
    inputs = dataset_inputs(store, dataset)
    first = next(inputs)  # a generator: one example at a time
    assert first == {"uid": "ex-0", "context": "Person 0 is reading a book.", "hypothesis": "Person 0 reads."}
    assert [example["uid"] for example in inputs] == ["ex-1", "ex-2", "ex-3"]
    assert all("label" not in example for example in dataset_inputs(store, dataset))
    assert dataset_targets(store, dataset) == {"ex-0": {"label": "entailed"}, "ex-1": {"label": "neutral"},
                                               "ex-2": {"label": "contradictory"}, "ex-3": {"label": "entailed"}}


def test_nothing_is_stored_unless_every_line_is_valid(store, add, tmp_path):
    lines = nli_lines(4)
    lines[1]["label"] = "maybe"
    lines[3]["uid"] = "ex-0"
    with pytest.raises(UsageError) as refused:
        add(lines + ["{not json"])
    message = str(refused.value)
    assert message.splitlines() == [
        f"{tmp_path / 'data.jsonl'}: 3 problems, nothing was stored:",
        "  line 2: label = 'maybe': not one of entailed, neutral, contradictory; "
        "give one of entailed, neutral, contradictory",
        "  line 4: uid = 'ex-0': already the uid of line 1; give each example its own uid",
        "  line 5: not valid JSON (Expecting property name enclosed in double quotes at column 2); "
        "write one JSON object a line",
    ]
    assert "uid, context, hypothesis and label" in refused.value.hint
    assert stored_files(store) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_problems_listed_are_capped_and_the_rest_counted(add):
    lines = nli_lines(30)
    for line in lines:
        line["label"] = "?"
    with pytest.raises(UsageError) as refused:
        add(lines)
    listing = str(refused.value).splitlines()
    assert listing[0].endswith("30 problems, nothing was stored:")
    assert len(listing) == 1 + 20 + 1
    assert listing[-1] == "  ... and 10 more"


def test_text_that_is_not_json_or_not_utf8_is_refused_by_line(store, tmp_path):
    path = tmp_path / "odd.jsonl"
    valid = json.dumps(nli_lines(1)[0]).encode()
    path.write_bytes(b"\n".join([
        valid,
        valid.replace(b"ex-0", b"ex-\xff"),
        json.dumps({**nli_lines(1, start=2)[0], "weight": float("nan")}).encode(),  # NaN is not JSON
        json.dumps(nli_lines(1, start=3)[0]).replace("Person 3", "\\ud800").encode(),  # half a surrogate pair
        b'{"uid": "ex-4", "uid": "ex-5"}',
    ]))
    with pytest.raises(UsageError) as refused:
        store.add(path, NLI, tmp_path / "tmp")
    lines = str(refused.value).splitlines()[1:]
    assert lines == [
        "  line 2: not UTF-8 text (byte 13 of the line); save the file as UTF-8",
        "  line 3: not valid JSON (NaN is not a JSON number); write one JSON object a line",
        "  line 4: holds an unpaired surrogate ('\\ud800'); write valid Unicode text",
        "  line 5: 'uid' given twice in the object; give each field once",
    ]


def test_an_empty_file_holds_no_examples(store, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    with pytest.raises(UsageError, match="holds no examples"):
        store.add(path, NLI, tmp_path / "tmp")


def test_a_file_past_the_size_limit_is_refused_before_it_is_read(store, add, monkeypatch):
    monkeypatch.setattr(store_module, "MAX_DATASET_BYTES", 1000)
    with pytest.raises(UsageError, match="is larger than 0 GiB"):
        add(nli_lines(20))
    assert stored_files(store) == []


def test_a_pipe_is_read_up_to_the_size_limit_only(store, tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "MAX_DATASET_BYTES", 100_000)
    fifo = tmp_path / "endless.jsonl"
    os.mkfifo(fifo)
    written = []

    def feed():  # a writer that would go on forever
        try:
            with open(fifo, "w") as pipe:
                for i in range(10**9):
                    pipe.write(json.dumps(nli_lines(1, start=i)[0]) + "\n")
                    written.append(i)
        except BrokenPipeError:  # the reader stopped
            pass

    writer = threading.Thread(target=feed)
    writer.start()
    with pytest.raises(UsageError, match="is larger than"):
        store.add(fifo, NLI, tmp_path / "tmp")
    writer.join(timeout=30)
    assert not writer.is_alive()
    assert len(written) < 10_000  # about 100 kB of lines, plus what the pipe's buffer held
    assert stored_files(store) == []


def test_a_line_past_the_line_limit_is_a_problem_and_the_next_lines_are_still_read(add, monkeypatch):
    monkeypatch.setattr(store_module, "MAX_LINE_BYTES", 200)
    lines = nli_lines(3)
    lines[0]["context"] = "long " * 100
    lines[2]["label"] = "?"
    with pytest.raises(UsageError) as refused:
        add(lines)
    assert str(refused.value).splitlines()[1:] == [
        "  line 1: longer than 0 MiB; keep each example under that size",
        "  line 3: label = '?': not one of entailed, neutral, contradictory; "
        "give one of entailed, neutral, contradictory",
    ]


def test_the_number_of_examples_is_bounded(add, monkeypatch):
    monkeypatch.setattr(store_module, "MAX_EXAMPLES", 5)
    assert add(nli_lines(5)).examples == 5
    with pytest.raises(UsageError, match="more than 5 examples"):
        add(nli_lines(6), name="six.jsonl")
