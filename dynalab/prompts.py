"""Questions asked on a terminal, and the rule that nothing is asked without one.

In CI (no terminal on stdin, or ``CI`` set) Dynalab never prompts: a value it
would have asked for is an error that names the flag to pass instead.
"""

import os
import sys

from dynalab.errors import Interrupted

TRUTHY = ("1", "true", "yes")


def interactive():
    """True when a person can answer: stdin is a terminal and we are not in CI."""
    if os.environ.get("CI", "").strip().lower() in TRUTHY:
        return False
    stdin = sys.stdin
    return stdin is not None and stdin.isatty()


def _read(prompt):
    try:
        return input(prompt)
    except EOFError:
        print()
        raise Interrupted("cancelled: no answer (end of input)") from None


def ask(question, default=None):
    """A line of text; empty input takes ``default``."""
    suffix = f" [{default}]" if default not in (None, "") else ""
    answer = _read(f"{question}{suffix}: ").strip()
    return answer or (default or "")


def confirm(question, default=True):
    choices = "Y/n" if default else "y/N"
    while True:
        answer = _read(f"{question} [{choices}] ").strip().lower()
        if not answer:
            return default
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        print("Please answer y or n.")


def choose(question, options, descriptions=None):
    """One of ``options``, by number or by name."""
    print(question)
    for number, option in enumerate(options, 1):
        extra = f" - {descriptions[option]}" if descriptions and option in descriptions else ""
        print(f"  {number}. {option}{extra}")
    while True:
        answer = _read(f"Enter a number (1-{len(options)}) or a name: ").strip()
        if answer in options:
            return answer
        if answer.isdigit() and 1 <= int(answer) <= len(options):
            return options[int(answer) - 1]
        print(f"{answer!r} is not one of the choices.")
