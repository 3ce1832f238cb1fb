"""Imports a package installed on this machine but missing from requirements.txt."""

import yaml  # noqa: F401  (pyyaml: there locally, not in the deployment)

from dynalab.tasks.task_io import TaskIO

task = TaskIO("nli")


def handle(data, context):
    if data is None:
        return None
    example = data[0]["body"]
    response = {"id": example["uid"], "label": "neutral"}
    task.sign_response(response, example)
    return [response]
