"""The README's "Task I/O reference", generated from the built-in task definitions.

    python -m dynalab.tasks.reference                   # print the reference
    python -m dynalab.tasks.reference --write README.md # update it in README.md

``--write`` replaces the text between the markers below, or appends a
"## Task I/O reference" section holding them if the file has none.
"""

import argparse
import json
import sys
from pathlib import Path

from dynalab.tasks import annotations
from dynalab.tasks.first_api import RECIPES
from dynalab.tasks.registry import builtin_task_codes, load_builtin
from dynalab.tasks.task_io import TaskIO
from dynalab.tasks.validation import METRICS

START_MARKER = "<!-- task-io:start -->"
END_MARKER = "<!-- task-io:end -->"
SECTION_TITLE = "## Task I/O reference"

INTRO = """\
Each request hands your handler one example: `data[0]["body"]` is a dict holding a
`uid` and the task's inputs. `handle` returns a list with one response: a dict (or
its JSON string) holding `id` (the example's `uid`), every required output, any
optional outputs, and `signature`, set last by
`self.taskIO.sign_response(response, example)`. Print an example input with
`python -c "from dynalab.tasks.task_io import TaskIO; print(TaskIO('nli').get_input_json())"`.
A custom task (`task_file` in the model config) is described in YAML the same way as
the built-in ones in `dynalab/tasks/definitions/`. A field may list `mock_values`: the
values the tests send for it instead of its type's own (the translation tasks send
language codes). An optional `metrics` block, `metrics: {{main: <name>, others: [<name>, ...]}}`,
tells the evaluation server how to score the task: `main` ranks the models, `others`
are reported beside it; the names are {metrics}.

Handlers written for the original Dynalab's first API (`from dynalab.tasks.qa import TaskIO`,
`TaskIO()` without a task code, `sign_response` setting `signed`) run unchanged, and their
responses are checked with that API's rules: its signature (over its fixed inputs and the
required outputs only; the translation tasks sign as `flores`) and probabilities that need
not sum to 1. Its tasks: {first_api_tasks}.
"""


def render_markdown():
    """The reference as Markdown: a section per built-in task listing its inputs and outputs."""
    metrics = ", ".join(f"`{name}`" for name in METRICS)
    parts = [INTRO.format(metrics=metrics, first_api_tasks=", ".join(f"`{code}`" for code in RECIPES))]
    for code in builtin_task_codes():
        parts.append(_render_task(TaskIO.from_definition(load_builtin(code))))
    return "\n".join(parts)


def _render_task(task_io):
    definition = task_io.definition
    lines = [f"### `{task_io.task_code}`: {definition.get('name', task_io.task_code)}", ""]
    if definition.get("description"):
        lines += [definition["description"], ""]
    if definition.get("metrics"):
        lines += [_metrics_line(definition["metrics"]), ""]

    lines += ["| Input field | Type | Value | Description |", "|---|---|---|---|"]
    lines.append("| `uid` | string | a unique id | copy it to the response's `id` |")
    for name in task_io.input_names:
        lines.append(_row(name, task_io.fields[name], task_io.fields))

    lines += ["", "| Response field | Required | Type | Value | Description |", "|---|---|---|---|---|"]
    lines.append("| `id` | yes | string | the example's `uid` | |")
    for name, field in task_io.output_fields.items():
        required = "yes" if name in task_io.target_names else "no"
        lines.append(_row(name, field, task_io.fields, required=required))
    lines.append("| `signature` | yes | string | set by `sign_response` | |")

    example = json.dumps(_example_response(task_io), ensure_ascii=False)
    lines += ["", "Example response:", "", "```json", example, "```", ""]
    return "\n".join(lines)


def _metrics_line(metrics):
    line = f"Scored by `{metrics['main']}`"
    if metrics.get("others"):
        line += " (also reported: " + ", ".join(f"`{name}`" for name in metrics["others"]) + ")"
    return line + "."


def _row(name, field, by_name, required=None):
    cells = [f"`{name}`"] + ([required] if required is not None else [])
    value = annotations.describe(field, by_name)
    if "mock_values" in field:
        value += "; the tests send " + ", ".join(f"`{mock}`" for mock in field["mock_values"])
    cells += [field["type"], value, field.get("description", "")]
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _example_response(task_io):
    # Fixed values, not a real uid or signature, so that the text never changes.
    example = {**task_io.get_input_json(), "uid": "<uid>"}
    response = {"id": "<uid>"}
    for name, field in task_io.output_fields.items():
        response[name] = annotations.mock_values(field, task_io.fields, example)[0]
    response["signature"] = "<set by sign_response>"
    return response


def current_block(text):
    """The text between the markers in ``text`` (without the newline after the start marker), or None."""
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    if start < 0 or end < start:
        return None
    return text[start + len(START_MARKER) : end].removeprefix("\n")


def with_reference(text, body):
    """``text`` with ``body`` between the markers; the section is appended if they are missing."""
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    if start < 0 or end < start:
        if text:
            text = text.rstrip("\n") + "\n\n"
        return f"{text}{SECTION_TITLE}\n\n{START_MARKER}\n{body}{END_MARKER}\n"
    return f"{text[: start + len(START_MARKER)]}\n{body}{text[end:]}"


def write(path):
    """Create or update the reference in the Markdown file at ``path``."""
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(with_reference(text, render_markdown()), encoding="utf-8")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m dynalab.tasks.reference", description=__doc__.splitlines()[0])
    parser.add_argument("--write", metavar="README", help="update the reference in this Markdown file")
    args = parser.parse_args(argv)
    if args.write:
        write(args.write)
    else:
        sys.stdout.write(render_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
