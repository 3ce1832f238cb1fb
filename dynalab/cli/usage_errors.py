"""invoke's parse errors, in words a user of ``dynalab-cli`` knows: what is wrong, and the likely fix.

A misspelt flag gets the closest flag of the step being parsed (never the
word typed back); a flag of another step says whose it is.
"""

import difflib
import re

from dynalab.errors import UsageError

STEP_HELP = "see `dynalab-cli STEP --help`"
ANY_HELP = "see `dynalab-cli --help` or `dynalab-cli STEP --help`"


def usage_error(error, commands, global_flags):
    """The UsageError for invoke's ParseError ``error``; ``commands`` is {word: Command}."""
    text = str(error)
    needs_value = re.search(r"Flag <Argument: ([\w-]+)", text)
    if needs_value:
        flag = "--" + needs_value.group(1).replace("_", "-")
        return UsageError(f"{flag} needs a value", hint=STEP_HELP)
    unknown = re.search(r"No idea what '(.+)' is", text)
    if unknown:
        return unknown_word(unknown.group(1), getattr(error, "context", None), commands, global_flags)
    return UsageError(text, hint=ANY_HELP)


def unknown_word(word, context, commands, global_flags):
    """The error for a word the step being parsed (invoke's ``context``) does not know."""
    step = context.name if context is not None and context.name in commands else None
    hint = f"see `dynalab-cli {step} --help`" if step else ANY_HELP
    if step == "upload" and word in ("--token", "-t", "--token-stdin"):
        return UsageError(
            f"upload takes no {word}: it sends the token saved by `dynalab-cli login`, or $DYNALAB_API_TOKEN",
            hint="log in once (in CI: `dynalab-cli login --token-stdin`), or set DYNALAB_API_TOKEN for the upload",
        )
    # The flags of the step being parsed (or the global ones), and the steps: never the word typed.
    listed = {name: command for name, command in commands.items() if command.listed}
    words = flags(commands[step]) if step else list(global_flags)
    words += list(listed)
    close = difflib.get_close_matches(word, [known for known in words if known != word], n=1)
    suggestion = f"; did you mean {close[0]!r}?" if close else ""
    owners = [name for name, command in listed.items() if name != step and word in flags(command)]
    if step and owners:
        return UsageError(f"{step} has no flag {word!r} (it is a flag of {', '.join(owners)}){suggestion}", hint=hint)
    return UsageError(f"unknown flag or step {word!r}{suggestion}", hint=hint)


def flags(command):
    """Every way of writing the flags of ``command``: ``--name``, ``-n``..."""
    found = []
    for flag in command.flags:
        found += [flag.option] + ([f"-{flag.short}"] if flag.short else [])
    return found
