"""``dynalab-cli --help`` and ``dynalab-cli STEP --help``, in Dynalab's words, made from the declarations."""

import shutil
import textwrap

import dynalab
from dynalab.errors import EXIT_CODES
from dynalab.steps import inputs

GLOBAL_OPTIONS = (
    ("--debug", "Show the traceback of an error (DYNALAB_DEBUG=1 does too)."),
    ("-h, --help", "Show this help; `dynalab-cli STEP --help` shows a step's flags and examples."),
    ("-V, --version", "Show Dynalab's version."),
    ("--print-completion-script SHELL", "Print the tab-completion script for bash, zsh or fish (see the README)."),
)


def program_help(commands):
    """The text of ``dynalab-cli --help``; ``commands`` is {word: Command}, in workflow order."""
    listed = [command for command in commands.values() if command.listed]
    lines = [
        f"Dynalab {dynalab.__version__}: take a PyTorch model project from your laptop to a leaderboard.",
        "",
        "Usage: dynalab-cli [--debug] STEP [FLAGS] [STEP [FLAGS] ...]",
        "",
        "Steps, in workflow order:",
        *_columns([(command.name, command.help_line) for command in listed]),
        "",
        "Global options:",
        *_columns(GLOBAL_OPTIONS),
        "",
        *_wrap("Every step takes --json: its result as one JSON object on stdout, human lines on stderr. "
               "The steps about a model take -n NAME, optional when only one model is initialised."),
        "",
        *_wrap("Steps run in the order given; a step runs what it needs first (each once per command), and is "
               "skipped when nothing it depends on changed since it passed. For example:"),
        "",
        "  dynalab-cli init -n my-model -t nli --model-checkpoint model.pt",
        "  dynalab-cli test --local -n my-model upload -n my-model",
        "",
        "Exit codes:",
        *_columns([(f"{code:>3}", meaning) for code, meaning in EXIT_CODES.items()]),
        "",
        *_wrap("Read more: `dynalab-cli STEP --help` for a step's flags and examples; the README's Workflow "
               "section for each step, and its JSON output section for --json."),
    ]
    return "\n".join(lines) + "\n"


def step_help(command, extra=()):
    """The text of ``dynalab-cli STEP --help`` for ``command`` (a ``cli.commands.Command``);
    ``extra`` are more lines (the config fields, the settings in effect)."""
    flags = command.flags
    usage = " ".join(f"[-{flag.short}{_value(flag)}]" if flag.short else f"[{flag.option}{_value(flag)}]"
                     for flag in flags)
    prefix = f"Usage: dynalab-cli {command.name} "
    lines = textwrap.wrap(usage, _width(), initial_indent=prefix, subsequent_indent=" " * len(prefix),
                          break_on_hyphens=False)
    lines += ["", *_wrap(command.help_line)]
    for step in command.steps:
        if step.more:
            lines += ["", *_wrap(step.more)]
    lines += ["", "Flags:", *_columns([(flag.usage(), flag.help) for flag in flags]), ""]
    lines += _per_step(command, "Depends on", _depends_on)
    if any(step.cached for step in command.steps):
        lines += _per_step(command, "Cached", _cached)
    lines += ["", "Examples:", *[f"  {example}" for step in command.steps for example in step.examples]]
    lines += ["", *extra] if extra else []
    return "\n".join(lines).rstrip("\n") + "\n"


def _per_step(command, title, say):
    """``title: ...`` for a command of one step; one line per step (``with --local``) for several."""
    if not command.switched:
        return _wrap(f"{title}: {say(command.steps[0])}.")
    rows = [(f"with --{step.switch.name}" if step.switch else "otherwise", say(step)) for step in command.steps]
    return [f"{title}:", *_columns(rows)]


def _depends_on(step):
    needs = [_command_line(need.step) + (f" (with --{need.when})" if need.when else "") for need in step.needs]
    if not needs:
        return "nothing"
    return ", then ".join(needs) + (", each skipped when cached" if len(needs) > 1 else ", skipped when cached")


def _cached(step):
    if not step.cached:
        return "no, it runs every time"
    return ("it reruns only when one of these changed since it passed (--force reruns it anyway): "
            + ", ".join(inputs.describe(step.covers)))


def _command_line(name):
    from dynalab.steps.declarations import BY_NAME

    step = BY_NAME[name]
    return f"`{step.word}{' --' + step.switch.name if step.switch else ''}`"


def _value(flag):
    return f" {flag.value or flag.name.upper()}" if flag.takes_value else ""


def _width():
    return min(shutil.get_terminal_size((100, 24)).columns, 100)


def _wrap(text):
    return textwrap.wrap(text, _width())


def _columns(rows, indent="  "):
    left = min(max(len(name) for name, _ in rows), 34)
    lines = []
    for name, text in rows:
        body = textwrap.wrap(text, max(_width() - left - len(indent) - 2, 30))
        if len(name) > left:
            lines.append(f"{indent}{name}")
            lines += [f"{indent}{'':<{left}}  {line}" for line in body]
        else:
            lines.append(f"{indent}{name:<{left}}  {body[0] if body else ''}")
            lines += [f"{indent}{'':<{left}}  {line}" for line in body[1:]]
    return lines
