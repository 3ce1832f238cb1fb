"""``dynalab-cli``: the one place where errors become output and exit codes.

An expected failure (a ``DynalabError``) is one line saying what is wrong and
one saying what to do, and its class's exit code; Ctrl-C (or SIGTERM) is
"interrupted" and 130; anything else is a bug of ours: one line, exit 1, and
the traceback with ``--debug`` (anywhere on the line) or ``DYNALAB_DEBUG=1``.
Plain ``invoke`` running a project's own tasks.py gets the same lines and
exit codes through ``invoke_collection``.
"""

import os
import signal
import sys
import traceback

from dynalab.errors import DynalabError

DEBUG_ENV = "DYNALAB_DEBUG"


def failure(error):
    """(the text a user sees for ``error``, the exit code it ends the command with)."""
    if isinstance(error, DynalabError):
        lines = [f"error: {error}"] + ([f"hint: {error.hint}"] if error.hint else [])
        return "\n".join(lines), error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", 130
    return (f"internal error: {type(error).__name__}: {error}\n"
            "hint: rerun with --debug for the traceback, and report it"), 1


def main(argv=None):
    """Run the command line; exits with the code of the error class (see README)."""
    from dynalab.cli.program import DynalabProgram

    argv = list(sys.argv if argv is None else argv)
    # Progress lines must show as they happen, also when piped to a CI log.
    sys.stdout.reconfigure(line_buffering=True)
    # A CI job cancelled with SIGTERM cleans up as after Ctrl-C: containers, processes, temp dirs.
    signal.signal(signal.SIGTERM, _interrupt)
    # --debug may go anywhere on the line, as users expect: it is this function's, not a step's.
    debug = "--debug" in argv[1:] or _debug_from_environment()
    argv = [argv[0]] + [arg for arg in argv[1:] if arg != "--debug"]
    try:
        DynalabProgram().run(argv)
    except (Exception, KeyboardInterrupt) as error:
        sys.stdout.flush()  # what the steps printed comes before the verdict
        expected = isinstance(error, (DynalabError, KeyboardInterrupt))
        if debug:
            traceback.print_exc()
        if expected or not debug:
            print(failure(error)[0], file=sys.stderr)
        sys.exit(failure(error)[1])


def invoke_collection():
    """The commands as an invoke Collection for a project's own tasks.py: a DynalabError ends the
    task as invoke's ``Exit``, with the same message and exit code as under ``dynalab-cli``."""
    from dynalab.cli.commands import collection

    return collection(on_error=_exit_for_invoke)


def _exit_for_invoke(error):
    from invoke.exceptions import Exit

    if _debug_from_environment():
        raise error
    sys.stdout.flush()
    message, code = failure(error)
    raise Exit(message, code=code) from None


def _debug_from_environment():
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes")


def _interrupt(signum, frame):
    raise KeyboardInterrupt
