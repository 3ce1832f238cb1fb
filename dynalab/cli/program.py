"""``dynalab-cli`` as an invoke ``Program`` over the commands made from the step declarations.

Its own global options only (invoke's shell-runner flags such as ``-f``,
``-e`` or ``--list`` mean nothing here, and must never swallow a step's
flag), its own help, and invoke's parse errors as Dynalab's usage errors.
What the command line asks for runs through ``StepsExecutor``: one runner
for the whole command.
"""

from invoke import Argument, Collection, Program
from invoke.completion.complete import complete, print_completion_script
from invoke.exceptions import Exit, ParseError

import dynalab
from dynalab.cli.commands import StepsExecutor, commands
from dynalab.errors import DynalabError, Interrupted, UsageError


class DynalabProgram(Program):
    """invoke's Program, with Dynalab's global options, help and usage errors."""

    def __init__(self):
        self.commands = commands()
        super().__init__(namespace=Collection(*self.commands.values()), name="Dynalab", binary="dynalab-cli",
                         binary_names=["dynalab-cli"], version=dynalab.__version__,
                         executor_class=StepsExecutor)

    def core_args(self):
        # The options of the whole program; --debug is taken off the line by main() before parsing.
        return [
            Argument(names=("help", "h"), optional=True, help="Show this help, or a step's."),
            Argument(names=("version", "V"), kind=bool, default=False, help="Show Dynalab's version."),
            Argument(names=("complete",), kind=bool, default=False, help="Print tab-completion candidates."),
            Argument(names=("print-completion-script",), kind=str, default="",
                     help="Print the tab-completion script for bash, zsh or fish."),
        ]

    def parse_core(self, argv):
        self.normalize_argv(argv)
        try:
            self.parse_core_args()
        except ParseError as error:
            raise self._usage_error(error) from None
        if self.args.version.value:
            self.print_version()
            raise Exit
        if self.args["print-completion-script"].value:
            print_completion_script(shell=self.args["print-completion-script"].value, names=self.binary_names)
            raise Exit

    def parse_tasks(self):
        try:
            super().parse_tasks()
        except ParseError as error:
            raise self._usage_error(error) from None

    def parse_cleanup(self):
        wanted = self.args.help.value  # a step's name (`dynalab-cli test --help`, `--help test`), or True
        if wanted is True and self.tasks:
            wanted = self.tasks[0].name
        if isinstance(wanted, str) and wanted:
            if wanted not in self.commands:
                raise UsageError(f"no step {wanted!r}", hint="`dynalab-cli --help` lists the steps")
            self.print_task_help(wanted)
            raise Exit
        if wanted is True or (not self.tasks and not self.args.complete.value):
            self.print_help()
            raise Exit
        if self.args.complete.value:
            complete(names=self.binary_names, core=self.core, initial_context=self.initial_context,
                     collection=self.collection, parser=self._make_parser())

    def update_config(self, merge=True):
        # invoke's run() settings (echo, pty, warn...) come from flags we do not have.
        if merge:
            self.config.merge()

    # Help and usage errors are imported when needed: a cached rerun should not pay for them.
    def print_help(self):
        from dynalab.cli.help import program_help

        print(program_help(self.commands), end="")

    def print_task_help(self, name):
        command = self.commands[name]
        uses = {use for step in command.steps for use in step.uses}
        extra = _config_fields() if "config fields" in uses else []
        extra += _settings_in_effect() if "settings" in uses else []
        from dynalab.cli.help import step_help

        print(step_help(command, extra), end="")

    def execute(self):
        # invoke turns Ctrl-C into exit code 1; ours is 130, as shells expect.
        try:
            super().execute()
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None

    def _usage_error(self, error):
        from dynalab.cli.usage_errors import usage_error

        return usage_error(error, self.commands, self.initial_context.flag_names())


def _config_fields():
    from dynalab.project.schema import describe

    return ["Config fields (.dynalab/<name>/config.yaml):",
            *[f"  {field} ({kind}, {default}): {description}" for field, kind, default, description in describe()]]


def _settings_in_effect():
    from dynalab.steps.actions.doctor import settings_lines

    lines = ["Settings in effect without a model's config (`dynalab-cli doctor` says where each comes from):"]
    try:
        return lines + settings_lines()
    except DynalabError as error:
        return lines + [f"  {error}"]
