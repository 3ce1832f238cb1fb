"""A handler for "toxicity", a task only the lab's server defines."""

from dynalab.tasks.task_io import TaskIO

task_io = TaskIO("toxicity")


def handle(data, context):
    if data is None:
        return None
    example = data[0]["body"]
    return [task_io.sign_response({"id": example["uid"], "toxic": "no"}, example)]
