"""What a step declaration holds: a ``Step``, its ``Flag``s and what it ``Need``s.

A step is data: the runner (``runner.py``) reads its needs, its fingerprint's
inputs and its action; the command line (``dynalab.cli.commands``) makes its
invoke task, flags and help from it. Actions and hooks are named as
``"module:function"`` and imported when the step runs, so reading the
declarations imports nothing heavy (a cached rerun must stay quick).
"""

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    """One flag of a step: ``name`` is its parameter (``root_dir`` is ``--root-dir``)."""

    name: str
    help: str
    short: str = None  # "n" gives -n
    kind: type = str  # str, bool (a switch), int or float
    default: object = None
    tristate: bool = False  # a switch that stays None unless given: "not given" is not "false"
    value: str = None  # what the value is, in help: NAME, PATH, JSON...

    @property
    def option(self):
        return "--" + self.name.replace("_", "-")

    @property
    def takes_value(self):
        return self.kind is not bool

    def usage(self):
        """``-n NAME, --name NAME`` or ``-f, --force``, as help shows it."""
        value = f" {self.value or self.name.upper()}" if self.takes_value else ""
        names = [f"-{self.short}{value}"] if self.short else []
        return ", ".join(names + [f"{self.option}{value}"])


@dataclass(frozen=True)
class Need:
    """A step that must have passed (or be skipped as cached) before this one runs."""

    step: str
    passes: tuple = ()  # flags of the needing step handed on, e.g. upload's --backend
    when: str = None  # only when this switch of the needing step is on (predict --integrated)

    def applies(self, flags):
        return self.when is None or bool(flags.get(self.when))


@dataclass(frozen=True)
class Step:
    """One workflow step, declared once."""

    name: str  # its key in state.yaml and its "step" in --json output, e.g. local_test
    title: str  # how lines name it: "Local test"
    help: str  # one line
    action: str  # "module:function" taking a StepRun, returning an Outcome (or None)
    command: str = None  # the word on the command line; default: the name with dashes
    switch: Flag = None  # the flag of ``command`` that selects this step among others (test --local)
    aliases: tuple = ()  # more words that run it, accepted but not listed in help
    model: bool = True  # about one model: takes -n NAME, loaded once per command
    needs: tuple = ()  # Need, in order
    prepare: str = None  # "module:function" checked before the needs run (e.g. where to upload, as whom)
    covers: tuple = ()  # names of the inputs its fingerprint covers (see inputs.py); () = never cached
    recorded: tuple = ()  # fields a recorded pass holds; a pass without them (older Dynalab) is rerun
    skipped: str = None  # "module:function" (StepRun, record) -> (line, details) when cached
    identity: tuple = ()  # flags that make two runs of it different runs (the backend of a test)
    flags: tuple = ()  # Flag, beyond --name and --json which every step about a model has
    examples: tuple = ()  # command lines, for help
    more: str = None  # a paragraph for `STEP --help`
    uses: tuple = ()  # what its help adds: "settings" (the settings in effect), "config fields"

    @property
    def word(self):
        return self.command or self.name.replace("_", "-")

    @property
    def cached(self):
        return bool(self.covers)

    def needs_for(self, flags):
        return [need for need in self.needs if need.applies(flags)]


def load(reference):
    """The function named by ``"module:function"``."""
    module, _, function = reference.partition(":")
    return getattr(importlib.import_module(module), function)
