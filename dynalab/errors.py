"""Every error Dynalab reports to a user, and the exit code each maps to.

``str(error)`` is the one line the user sees; ``hint`` is what to do about it.
``dynalab.cli.main`` is the one place that turns them into output and exit
codes (for ``dynalab-cli``, and for plain ``invoke`` running a project's own
tasks.py). Nothing else calls ``sys.exit``. Standard library only: the
runtime next to the model is shipped with this module.
"""


EXIT_CODES = {
    0: "success, or skipped because nothing changed since the last pass",
    1: "internal error (a bug in Dynalab: rerun with --debug and report it)",
}
"""{exit code: what it means}: the table of ``dynalab-cli --help`` and the README; each class below adds its own."""


class DynalabError(Exception):
    """Base class: an expected failure with a message meant for the user.

    A subclass gives its exit code and what that code means as class keywords
    (``class AuthError(DynalabError, exit_code=5, means="...")``); one that gives
    none has its base's.
    """

    exit_code = 1

    def __init_subclass__(cls, exit_code=None, means=None, **kwargs):
        super().__init_subclass__(**kwargs)
        if exit_code is not None:
            cls.exit_code = exit_code
            EXIT_CODES[exit_code] = means

    def __init__(self, message, hint=None):
        super().__init__(message)
        self.hint = hint


class UsageError(DynalabError, exit_code=2,
                 means="usage or config error (bad flag, unknown model, invalid config or path)"):
    """Raised for a bad command line: unknown model, missing flag, bad name."""


class ConfigError(UsageError):
    """Raised when a model config or a path named in it is invalid (a usage error, exit code 2)."""


class LocalTestFailed(DynalabError, exit_code=3, means="local test failed (also when test or upload ran it first)"):
    """Raised when the handler fails the local test (or a response of ``predict`` fails a check)."""


class IntegratedTestFailed(DynalabError, exit_code=4,
                           means="integrated test failed (also when upload ran it first), or upload refused a "
                                 "package that passed it without network isolation (--allow-unisolated)"):
    """Raised when the packaged model fails in its isolated environment."""


class AuthError(DynalabError, exit_code=5, means="authentication failed (log in again)"):
    """Raised when no API token is available or the server rejects it."""


class Throttled(DynalabError, exit_code=6, means="upload quota reached (throttled)"):
    """Raised when the server refuses an upload because the quota is used up."""


class UploadError(DynalabError, exit_code=7,
                  means="upload refused by the server (archive too large or invalid, task unknown there) "
                        "or stored with a different sha256"):
    """Raised when an upload is refused or cannot be completed."""


class ServerError(DynalabError, exit_code=8, means="evaluation server unreachable or failing"):
    """Raised when the evaluation server cannot be reached or fails (5xx)."""


class EvaluationFailed(DynalabError, exit_code=9,
                       means="the model failed on the evaluation server (status --wait, upload --wait): "
                             "its failure class, reason and hint are shown"):
    """Raised when a model followed with ``--wait`` ends ``failed`` on the server."""


class EvaluationTimedOut(DynalabError, exit_code=10,
                         means="the model was not yet evaluated when --timeout ran out (status --wait, "
                               "upload --wait); it goes on on the server"):
    """Raised when ``--wait`` gives up after ``--timeout`` seconds."""


class PublishRefused(DynalabError, exit_code=11, means="publish refused by the server (the model is not evaluated)"):
    """Raised when the server refuses to publish a model; the message holds its reason."""


class Interrupted(DynalabError, exit_code=130, means="interrupted (Ctrl-C, or end of input at a prompt)"):
    """Raised when the user stops a command (Ctrl-C, or end of input at a prompt)."""
