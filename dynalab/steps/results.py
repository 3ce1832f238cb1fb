"""What a step ends with: an action's ``Outcome``, and the runner's ``Result`` (what ``--json`` prints).

The JSON object of a result is a contract for CI scripts (the README lists
its fields): add fields, never rename or drop one.
"""

from dataclasses import dataclass, field

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclass
class Outcome:
    """What an action hands back: JSON-able ``details``, the ``record`` a cached step keeps in
    state.yaml, a ``value`` for the steps that need it (the archive), and whether it did nothing
    because the work was done before (``skipped``: a reused archive, a package uploaded already)."""

    details: dict = field(default_factory=dict)
    record: dict = field(default_factory=dict)
    value: object = None
    skipped: bool = False


@dataclass
class Result:
    """How one step of one model went in this command."""

    step: str
    model: str = None
    status: str = PASSED
    started_at: str = ""
    seconds: float = 0.0
    fingerprint: str = None
    passed_at: str = None  # a skipped step: when it passed
    details: dict = field(default_factory=dict)
    value: object = None
    needed: dict = field(default_factory=dict)  # {step: status} of the steps it needed
    error: BaseException = None

    @property
    def failed(self):
        return self.status == FAILED

    def as_json(self):
        """The object ``--json`` prints for this result."""
        record = {
            "step": self.step,
            "model": self.model,
            "status": self.status,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "fingerprint": self.fingerprint,
            "passed_at": self.passed_at,
            "needed": dict(self.needed),
            **self.details,
            "error": describe_error(self.error) if self.error is not None else None,
        }
        return record


def describe_error(error):
    """An error as JSON: its class, message, hint and the exit code it ends the command with."""
    from dynalab.errors import DynalabError

    if isinstance(error, DynalabError):
        return {"class": type(error).__name__, "message": str(error), "hint": error.hint,
                "exit_code": error.exit_code}
    return {"class": type(error).__name__, "message": str(error), "hint": "a bug in Dynalab: rerun with --debug and report it",
            "exit_code": 1}


def archive_details(archive):
    """The ``archive`` object of the JSON output, for a ``packaging.ArchiveInfo``."""
    return {"archive": {"path": str(archive.path), "sha256": archive.sha256, "size": archive.size,
                        "files": archive.file_count}}
