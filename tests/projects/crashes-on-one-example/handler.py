"""Answers every nli example, except the one whose hypothesis says "boom": there it divides by zero."""

from dynalab.tasks.task_io import TaskIO

task_io = TaskIO("nli")


def handle(data, context):
    if data is None:
        return None
    example = data[0]["body"]
    if "boom" in example["hypothesis"]:
        return [1 / 0]
    return [task_io.sign_response({"id": example["uid"], "label": "neutral"}, example)]
