"""Answers every nli example, except one whose hypothesis says "odd": to it, it answers a label the task lacks."""

from dynalab.tasks.task_io import TaskIO

task_io = TaskIO("nli")


def handle(data, context):
    if data is None:
        return None
    example = data[0]["body"]
    label = "maybe" if "odd" in example["hypothesis"] else "neutral"
    return [task_io.sign_response({"id": example["uid"], "label": label}, example)]
