"""Answers every nli example with a label the task does not have."""

from dynalab.tasks.task_io import TaskIO

task_io = TaskIO("nli")


def handle(data, context):
    if data is None:
        return None
    example = data[0]["body"]
    return [task_io.sign_response({"id": example["uid"], "label": "maybe"}, example)]
