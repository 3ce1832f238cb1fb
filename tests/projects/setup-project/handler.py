"""Imports the project's own package, installed with its setup.py (setup: true)."""

import mypkg

from dynalab.tasks.task_io import TaskIO

task = TaskIO("nli")


def handle(data, context):
    if data is None:
        return None
    example = data[0]["body"]
    response = {"id": example["uid"], "label": mypkg.LABEL}
    task.sign_response(response, example)
    return [response]
