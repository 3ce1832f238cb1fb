"""Reads a file of a folder the config excludes from the package."""

import json
import os

from dynalab.tasks.task_io import ROOTPATH, TaskIO

task = TaskIO("nli")
with open(os.path.join(ROOTPATH, "data", "labels.json")) as f:
    LABELS = json.load(f)


def handle(data, context):
    if data is None:
        return None
    example = data[0]["body"]
    response = {"id": example["uid"], "label": LABELS[0]}
    task.sign_response(response, example)
    return [response]
