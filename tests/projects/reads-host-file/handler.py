"""Reads, at load, a file of this machine outside the project, by the absolute path in host_path.txt."""

from dynalab.tasks.task_io import TaskIO

task = TaskIO("nli")


def handle(data, context):
    if data is None:  # loading: read the file outside the project
        with open("host_path.txt") as f:
            with open(f.read().strip()) as outside:
                outside.read()
        return None
    example = data[0]["body"]
    response = {"id": example["uid"], "label": "neutral"}
    task.sign_response(response, example)
    return [response]
