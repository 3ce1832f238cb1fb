"""Batched mode: the body is JSON lines, the answer one string of JSON lines."""

import json

from dynalab.tasks.task_io import TaskIO

task_io = TaskIO("nli")


def handle(data, context):
    if data is None:
        return None
    lines = []
    for line in data[0]["body"].splitlines():
        example = json.loads(line)
        response = task_io.sign_response({"id": example["uid"], "label": "contradictory"}, example)
        lines.append(json.dumps(response))
    return ["\n".join(lines)]
