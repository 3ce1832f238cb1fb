"""Answers every nli example at once, except one whose hypothesis says "slow": that one it never answers."""

import time

from dynalab.tasks.task_io import TaskIO

task_io = TaskIO("nli")


def handle(data, context):
    if data is None:
        return None
    example = data[0]["body"]
    if "slow" in example["hypothesis"]:
        time.sleep(3600)
    return [task_io.sign_response({"id": example["uid"], "label": "neutral"}, example)]
