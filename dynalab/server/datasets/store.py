"""Dataset files: read and checked line by line, stored by content hash, read back for the jobs.

``DatasetStore.add`` streams a JSON-lines file through an ``ExampleChecker``, writing
each valid example in the stored form (``{"inputs", "targets", "uid"}``, canonical
JSON: sorted keys, no spaces) to a temporary file hashed as it is written; only when
every line is valid does the file become ``DATA_DIR/datasets/<sha256>.jsonl``, in one
rename. The same examples added twice are therefore one file, however they were
formatted. The cost is bounded whatever the file: ``MAX_DATASET_BYTES`` read,
``MAX_LINE_BYTES`` a line, ``MAX_EXAMPLES`` examples (their uids are held to find
duplicates), ``MAX_ISSUES_SHOWN`` problems listed.

``dataset_inputs(store, dataset)`` yields what a model is sent, one example at a
time; ``dataset_targets(store, dataset)`` the gold targets by uid. Neither holds more
than one line's inputs at once.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from dynalab.errors import DynalabError, UsageError
from dynalab.server.datasets.examples import format_issue
from dynalab.server.intake.storage import DiskFull, IncomingFile, TooLarge, no_room_is_disk_full
from dynalab.tasks.validation import Issue

MAX_DATASET_BYTES = 2 * 1024**3
MAX_LINE_BYTES = 16 * 1024**2  # a vqa example carries its image
MAX_EXAMPLES = 1_000_000
MAX_ISSUES_SHOWN = 20
# The stored form adds a few bytes a line ({"inputs":{...},"targets":{...}}).
MAX_STORED_BYTES = 2 * MAX_DATASET_BYTES
_BOM = "\ufeff"
_TOO_LONG = object()
WRITE_BYTES = 1 << 20  # stored lines are written in pieces of about this size


@dataclass(frozen=True)
class StoredDataset:
    sha256: str
    examples: int


class DatasetStore:
    """The folder of dataset files, ``DATA_DIR/datasets``, one file per distinct content."""

    def __init__(self, root):
        self.root = Path(root)

    def path(self, sha256):
        return self.root / f"{sha256}.jsonl"

    def add(self, source, checker, tmp_dir):
        """Check every line of the file ``source`` and store its examples; returns a ``StoredDataset``.

        Nothing is stored unless every line is valid: the ``UsageError`` raised
        otherwise lists the problems, each with its line number, field, value and fix.
        The file is written in ``tmp_dir`` (on the same file system) first.
        """
        source = Path(source)
        try:
            file = open(source, "rb")
        except OSError as error:
            raise UsageError(f"cannot read {source}: {error.strerror}") from None
        with file:
            if os.fstat(file.fileno()).st_size > MAX_DATASET_BYTES:
                raise _too_large(source)
            try:
                with no_room_is_disk_full("datasets"):
                    self.root.mkdir(parents=True, exist_ok=True)
                    Path(tmp_dir).mkdir(parents=True, exist_ok=True)
                    with IncomingFile(tmp_dir, MAX_STORED_BYTES) as incoming:
                        examples = _copy_valid_examples(file, source, checker, incoming)
                        return StoredDataset(self._keep(incoming), examples)
            except DiskFull:
                raise DynalabError(f"no room left on the disk of {self.root}: nothing was stored",
                                   hint="free some space and run the command again") from None
            except TooLarge:
                raise _too_large(source) from None

    def _keep(self, incoming):
        sha256 = incoming.finish()
        try:
            os.replace(incoming.path, self.path(sha256))
        except FileNotFoundError:
            # The server sweeps DATA_DIR/tmp when it starts.
            raise DynalabError("the server started while the dataset was being written, and removed "
                               "the file in progress: nothing was stored", hint="run the command again") from None
        _sync_folder(self.root)
        return sha256

    def records(self, sha256):
        """The stored examples of the file ``sha256``, one dict at a time."""
        with open(self.path(sha256), "rb") as file:
            for line in file:
                yield json.loads(line)

    def discard(self, sha256):
        self.path(sha256).unlink(missing_ok=True)


def dataset_inputs(store, dataset):
    """Each example of ``dataset`` as a model is sent it: ``uid`` and the task's inputs, never the targets."""
    for record in store.records(dataset.sha256):
        yield {"uid": record["uid"], **record["inputs"]}


def dataset_targets(store, dataset):
    """``{uid: {target field: gold}}`` for every example of ``dataset``."""
    return {record["uid"]: record["targets"] for record in store.records(dataset.sha256)}


def _copy_valid_examples(file, source, checker, incoming):
    """Write the stored form of every line of ``file`` to ``incoming``; the number of examples.

    Every line is checked even after a bad one, so that all problems are listed at once.
    """
    first_line = {}  # uid -> the line that has it
    shown, more = [], 0
    pending = bytearray()
    for number, raw in _lines(file, source):
        example, issues = _parse(raw, number, checker)
        uid = example.get("uid") if isinstance(example, dict) else None
        if isinstance(uid, str):
            if uid in first_line:
                issues.append(Issue("uid", uid, f"already the uid of line {first_line[uid]}",
                                    "give each example its own uid"))
            else:
                first_line[uid] = number
                if len(first_line) > MAX_EXAMPLES:
                    raise UsageError(f"{source} holds more than {MAX_EXAMPLES:,} examples, the most a dataset may have",
                                     hint="split it into several datasets")
        if example is not None and not issues:
            try:
                stored = _ENCODER.encode(checker.split(example)).encode("utf-8")
            except UnicodeEncodeError as error:
                issues.append(Issue(None, None, f"holds an unpaired surrogate ({error.object[error.start]!r})",
                                    "write valid Unicode text"))
        for issue in issues:
            if len(shown) < MAX_ISSUES_SHOWN:
                shown.append(format_issue(number, issue))
            else:
                more += 1
        if example is not None and not issues and not shown:
            pending += stored + b"\n"
            if len(pending) >= WRITE_BYTES:
                incoming.write(bytes(pending))
                pending.clear()
    if shown:
        listing = "\n".join(f"  {line}" for line in shown)
        if more:
            listing += f"\n  ... and {more} more"
        total = len(shown) + more
        raise UsageError(f"{source}: {total} problem{'s' if total > 1 else ''}, nothing was stored:\n{listing}",
                         hint=f"a line is one JSON object with {checker.describe_line()}; fix the lines above "
                              "and run the command again")
    if not first_line:
        raise UsageError(f"{source} holds no examples",
                         hint=f"write one JSON object a line, with {checker.describe_line()}")
    incoming.write(bytes(pending))
    return len(first_line)


def _lines(file, source):
    """``(line number, bytes)`` for each line, ``_TOO_LONG`` for a line past the limit;
    ``UsageError`` once more than ``MAX_DATASET_BYTES`` are read (a file may grow, or be a pipe)."""
    total = number = 0
    while raw := file.readline(MAX_LINE_BYTES + 1):
        number += 1
        total += len(raw)
        too_long = len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n")
        while raw and not raw.endswith(b"\n") and too_long:  # skip the rest of the line
            raw = file.readline(1 << 20)
            total += len(raw)
            if total > MAX_DATASET_BYTES:
                break
        if total > MAX_DATASET_BYTES:
            raise _too_large(source)
        yield number, _TOO_LONG if too_long else raw


def _parse(raw, number, checker):
    """``(parsed line or None, [Issue])``; a blank line is ``(None, [])``."""
    if raw is _TOO_LONG:
        return None, [Issue(None, None, f"longer than {MAX_LINE_BYTES // 1024**2} MiB",
                            "keep each example under that size")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, [Issue(None, None, f"not UTF-8 text (byte {error.start + 1} of the line)",
                            "save the file as UTF-8")]
    if number == 1:
        text = text.removeprefix(_BOM)
    if not text.strip():
        return None, []
    try:
        line = _DECODER.decode(text)
    except _DuplicateKey as duplicate:
        return None, [Issue(None, None, f"{duplicate.key!r} given twice in the object", "give each field once")]
    except ValueError as error:  # JSONDecodeError, and NaN / Infinity
        reason = f"{error.msg} at column {error.colno}" if isinstance(error, json.JSONDecodeError) else str(error)
        return None, [Issue(None, None, f"not valid JSON ({reason})", "write one JSON object a line")]
    return line, checker.problems(line)


class _DuplicateKey(ValueError):
    def __init__(self, key):
        super().__init__(key)
        self.key = key


def _object(pairs):
    result = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _not_json(constant):
    raise ValueError(f"{constant} is not a JSON number")


_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_not_json)
# The stored form: canonical, so that the same examples make the same file.
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _too_large(source):
    return UsageError(f"{source} is larger than {MAX_DATASET_BYTES // 1024**3} GiB, the most a dataset file may be",
                      hint="split it into several datasets")


def _sync_folder(folder):
    """Make a rename in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
