"""``dynalab-cli``: the one place where errors become messages and exit codes."""

import difflib
import os
import re
import signal
import sys
import traceback

from invoke import Program
from invoke.exceptions import ParseError

import dynalab
from dynalab.errors import DEBUG_ENV, EXIT_CODES, DynalabError, Interrupted, UsageError, debugging, user_message


SHOWN_CORE_OPTIONS = ("--help", "--version", "--list", "--complete", "--print-completion-script")


class DynalabProgram(Program):
    """invoke's Program over our fixed task collection, with usage errors as ours."""

    def print_help(self):
        print(f"Usage: {self.binary} [--debug] <step> [--step-opts] [<step> [--step-opts] ...]")
        print()
        print("Steps run in the order given, e.g. `dynalab-cli test --local -n m upload -n m`.")
        print("A step whose inputs have not changed since it passed is skipped.")
        print()
        print("Options:")
        print()
        # invoke's shell-runner options (--echo, --pty, ...) mean nothing here.
        tuples = [row for row in self.initial_context.help_tuples() if row[0].split("=")[0].split(", ")[-1].split("[")[0] in SHOWN_CORE_OPTIONS]
        tuples.append(("--debug", "Show tracebacks of errors."))
        self.print_columns(tuples)
        self.list_tasks()
        print("Exit codes:")
        for code, meaning in EXIT_CODES.items():
            print(f"  {code:>3}  {meaning}")
        print()

    def print_task_help(self, name):
        super().print_task_help(name)
        if name == "init":
            from dynalab.config_schema import describe

            print("Config fields (.dynalab/<name>/config.yaml):")
            for field, kind, default, description in describe():
                print(f"  {field} ({kind}, {default}): {description}")
            print()
        if name in ("test", "integrated-test", "upload"):
            from dynalab.doctor import settings_lines

            print("Settings in effect without a model's config (`dynalab-cli doctor` says where each comes from):")
            try:
                for line in settings_lines():
                    print(line)
            except DynalabError as error:
                print(f"  {error}")
            print()

    def parse_core(self, argv):
        try:
            super().parse_core(argv)
        except ParseError as error:
            raise self._usage_error(error) from None

    def parse_tasks(self):
        try:
            super().parse_tasks()
        except ParseError as error:
            raise self._usage_error(error) from None

    def execute(self):
        # invoke turns Ctrl-C into exit code 1; ours is 130, as shells expect.
        try:
            super().execute()
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None

    def _usage_error(self, error):
        """invoke's parse error, in words a user of dynalab-cli knows."""
        text = str(error)
        needs_value = re.search(r"Flag <Argument: ([\w-]+)", text)
        if needs_value:
            flag = "--" + needs_value.group(1).replace("_", "-")
            return UsageError(f"{flag} needs a value", hint="see `dynalab-cli STEP --help`")
        unknown = re.search(r"No idea what '(.+)' is", text)
        if unknown:
            return self._unknown_word(unknown.group(1), getattr(error, "context", None))
        return UsageError(text, hint="see `dynalab-cli --help` or `dynalab-cli STEP --help`")

    def _unknown_word(self, word, context):
        """The error for a word the step being parsed (``context``) does not know."""
        step = context.name if context is not None and context.name in self.namespace.task_names else None
        hint = f"see `dynalab-cli {step} --help`" if step else "see `dynalab-cli --help` or `dynalab-cli STEP --help`"
        if step == "upload" and word in ("--token", "-t", "--token-stdin"):
            return UsageError(
                f"upload takes no {word}: it sends the token saved by `dynalab-cli login`, or $DYNALAB_API_TOKEN",
                hint="log in once (in CI: `dynalab-cli login --token-stdin`), or set DYNALAB_API_TOKEN for the upload",
            )
        # The flags of the step being parsed (or the core ones), and the steps: never the word typed.
        words = self._flags(step) if step else [flag for flag in SHOWN_CORE_OPTIONS]
        words += list(self.namespace.task_names)
        close = difflib.get_close_matches(word, [known for known in words if known != word], n=1)
        suggestion = f"; did you mean {close[0]!r}?" if close else ""
        owners = [name for name in self.namespace.task_names if name != step and word in self._flags(name)]
        if step and owners:
            return UsageError(f"{step} has no flag {word!r} (it is a flag of {', '.join(owners)}){suggestion}", hint=hint)
        return UsageError(f"unknown flag or step {word!r}{suggestion}", hint=hint)

    def _flags(self, step):
        flags = []
        for argument in self.namespace[step].get_arguments():
            flags.extend(f"--{n}" if len(n) > 1 else f"-{n}" for n in argument.names)
        return flags


def build_program():
    from dynalab.workflow import namespace

    return DynalabProgram(namespace=namespace, name="Dynalab", binary="dynalab-cli", version=dynalab.__version__)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    """Run the command line; exits with the code of the error class (see README)."""
    argv = list(sys.argv if argv is None else argv)
    # Progress lines must show as they happen, also when piped to a CI log.
    sys.stdout.reconfigure(line_buffering=True)
    # A CI job cancelled with SIGTERM cleans up as after Ctrl-C: containers, processes, temp dirs.
    signal.signal(signal.SIGTERM, _interrupt)
    # --debug may go anywhere on the line, as users expect; invoke would take it as its own.
    debug = "--debug" in argv[1:] or debugging()
    argv = [argv[0]] + [arg for arg in argv[1:] if arg != "--debug"]
    if debug:
        os.environ[DEBUG_ENV] = "1"  # read by the tasks, which report their own errors
    try:
        build_program().run(argv)
    except DynalabError as error:
        sys.stdout.flush()  # what the step printed comes before the verdict
        if debug:
            traceback.print_exc()
        print(user_message(error), file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as error:  # a bug of ours: say so, briefly, unless asked for details
        if debug:
            traceback.print_exc()
        else:
            print(f"internal error: {type(error).__name__}: {error}", file=sys.stderr)
            print("hint: rerun with --debug for the traceback, and report it", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
