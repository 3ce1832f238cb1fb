"""Reads, at load, files of the machine it runs on, outside its package: those listed in outside_paths.txt.

As a handler that goes looking for the server's database, another upload or
the host's secrets would: it loads only if every one of them can be read.
"""

from dynalab.tasks.task_io import TaskIO

task = TaskIO("nli")


def handle(data, context):
    if data is None:
        with open("outside_paths.txt") as listing:
            for path in listing.read().split():
                with open(path, "rb") as outside:
                    outside.read(1)
        return None
    example = data[0]["body"]
    response = {"id": example["uid"], "label": "neutral"}
    task.sign_response(response, example)
    return [response]
