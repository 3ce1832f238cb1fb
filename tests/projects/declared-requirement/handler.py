"""Imports a package that requirements.txt declares (and torch, which the deployment preinstalls)."""

import humanize

from dynalab.tasks.task_io import TaskIO

task = TaskIO("nli")


def handle(data, context):
    if data is None:
        return None
    example = data[0]["body"]
    response = {"id": example["uid"], "label": "neutral" if humanize.intcomma(1000) == "1,000" else "entailed"}
    task.sign_response(response, example)
    return [response]
