"""The invoke tasks of ``dynalab-cli`` and of a project's own tasks.py, made from the step declarations.

One task per command word (``test`` runs the local or the integrated test, as
``--local`` says), plus one per alias (``local-test``, ``integrated-test``:
accepted, never listed). A task's flags are its steps' flags; what it runs
is handed to ``run_steps``: one runner for the whole command under
``dynalab-cli`` (``StepsExecutor``), one per task under plain ``invoke``.
"""

from invoke import Argument, Collection, Executor, Task

from dynalab.errors import UsageError
from dynalab.steps.declarations import COMMAND_HELP, STEPS, flags_of


class Command(Task):
    """One command word as an invoke task: ``steps`` are the steps it can run."""

    def __init__(self, word, steps, on_error=None):
        def body(c, **given):
            return run_steps(self.requests(given), on_error)

        super().__init__(body, name=word, positional=[], auto_shortflags=False)
        self.steps = tuple(steps)
        self.help_line = COMMAND_HELP.get(word) or self.steps[0].help
        self.__doc__ = self.help_line

    @property
    def listed(self):
        """False for an alias (``local-test``): it runs, but help and suggestions never name it."""
        return self.name == self.steps[0].word

    @property
    def switched(self):
        """True when a switch chooses among the command's steps (not for an alias of one step)."""
        return len(self.steps) > 1

    @property
    def flags(self):
        """Every flag of the command, each once: --name, the switches, each step's own, then --json."""
        seen = {}
        for step in self.steps:
            *own, json = flags_of(step)
            for flag in own[:1] + ([step.switch] if step.switch and self.switched else []) + own[1:]:
                seen.setdefault(flag.name, flag)
        return [*seen.values(), json]

    def get_arguments(self, ignore_unknown_help=None):
        arguments = []
        for flag in self.flags:
            names = (flag.option[2:], *((flag.short,) if flag.short else ()))
            # attr_name only where it differs: invoke would alias a name to itself otherwise.
            attr_name = flag.name if flag.name != names[0] else None
            arguments.append(Argument(names=names, kind=flag.kind, default=flag.default, help=flag.help,
                                      attr_name=attr_name))
        return arguments

    def requests(self, given):
        """[(Step, flags)] of what this command line asks for: the step its switches select."""
        if self.switched:
            step = next((step for step in self.steps if step.switch and given.get(step.switch.name)), None)
            step = step or next(step for step in self.steps if not step.switch)
        else:
            step = self.steps[0]
        own = {flag.name for flag in flags_of(step)}
        for flag in self.flags:
            if flag.name not in own and flag is not step.switch and given.get(flag.name) not in (None, False):
                other = next(s for s in self.steps if flag.name in {f.name for f in flags_of(s)})
                raise UsageError(f"{flag.option} is a flag of the {other.title.lower()}, not of the "
                                 f"{step.title.lower()}", hint=f"see `dynalab-cli {self.name} --help`")
        return [(step, {name: value for name, value in given.items() if name in own})]


def commands(on_error=None, steps=STEPS):
    """{word: Command} of every command and alias of ``steps``, in their order."""
    found = {}
    for step in steps:
        found.setdefault(step.word, []).append(step)
    made = {word: Command(word, declared, on_error) for word, declared in found.items()}
    for step in steps:
        for alias in step.aliases:
            made[alias] = Command(alias, [step], on_error)
    return made


def collection(on_error=None):
    """The invoke Collection of every command; ``on_error(error)`` hears each DynalabError (plain invoke)."""
    return Collection(*commands(on_error).values())


def run_steps(requests, on_error=None):
    """Run ``requests`` ([(Step, flags)]) as one command in the current folder's project."""
    from dynalab.cli.output import Output
    from dynalab.errors import DynalabError
    from dynalab.project import Project
    from dynalab.steps.runner import Runner

    output = Output(json_wanted=any(flags.get("json") for _, flags in requests))
    try:
        return Runner(Project(), STEPS, out=output.say).run(requests, on_result=output.result)
    except DynalabError as error:
        if on_error is None:
            raise
        on_error(error)


class StepsExecutor(Executor):
    """Hands every step of the command line to one runner at once, so each step runs once per command."""

    def execute(self, *tasks):
        calls = self.normalize(tasks)
        run_steps([request for call in calls for request in call.task.requests(call.kwargs)])
