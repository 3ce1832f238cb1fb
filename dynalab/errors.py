"""Every error Dynalab reports to a user, and the exit code each maps to.

``str(error)`` is the one line the user sees; ``hint`` is what to do about it.
``dynalab.cli.main`` is the one place that turns them into output and exit
codes (for ``dynalab-cli``, and for plain ``invoke`` running a project's own
tasks.py). Nothing else calls ``sys.exit``. Standard library only: the
runtime next to the model is shipped with this module.
"""


class DynalabError(Exception):
    """Base class: an expected failure with a message meant for the user."""

    exit_code = 1

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.hint = hint


class UsageError(DynalabError):
    """Raised for a bad command line: unknown model, missing flag, bad name."""

    exit_code = 2


class ConfigError(UsageError):
    """Raised when a model config or a path named in it is invalid."""

    exit_code = 2


class LocalTestFailed(DynalabError):
    """Raised when the handler fails the local test."""

    exit_code = 3


class IntegratedTestFailed(DynalabError):
    """Raised when the packaged model fails in its isolated environment."""

    exit_code = 4


class AuthError(DynalabError):
    """Raised when no API token is available or the server rejects it."""

    exit_code = 5


class Throttled(DynalabError):
    """Raised when the server refuses an upload because the quota is used up."""

    exit_code = 6


class UploadError(DynalabError):
    """Raised when an upload is refused or cannot be completed."""

    exit_code = 7


class ServerError(DynalabError):
    """Raised when the evaluation server cannot be reached or fails (5xx)."""

    exit_code = 8


class Interrupted(DynalabError):
    """Raised when the user stops a command (Ctrl-C, or end of input at a prompt)."""

    exit_code = 130


EXIT_CODES = {
    0: "success, or skipped because nothing changed since the last pass",
    1: "internal error (a bug in Dynalab: rerun with --debug and report it)",
    UsageError.exit_code: "usage or config error (bad flag, unknown model, invalid config or path)",
    LocalTestFailed.exit_code: "local test failed (also when test or upload ran it first)",
    IntegratedTestFailed.exit_code: "integrated test failed (also when upload ran it first), or upload refused "
    "a package that passed it without network isolation (--allow-unisolated)",
    AuthError.exit_code: "authentication failed (log in again)",
    Throttled.exit_code: "upload quota reached (throttled)",
    UploadError.exit_code: "upload refused by the server (archive too large or invalid, task unknown there) "
    "or stored with a different sha256",
    ServerError.exit_code: "evaluation server unreachable or failing",
    Interrupted.exit_code: "interrupted (Ctrl-C, or end of input at a prompt)",
}
