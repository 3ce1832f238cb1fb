"""A slow nli model: 0.1 s per example (as if it computed), then the label its hypothesis's length picks.

For the tests and the benchmark of remote workers: an evaluation that lasts long enough to kill its
worker in the middle, and whose time is the model's, not the platform's.
"""

import time

from dynalab.tasks.task_io import TaskIO

SECONDS_PER_EXAMPLE = 0.1
LABELS = ("entailed", "neutral", "contradictory")

task_io = TaskIO("nli")


def handle(data, context):
    if data is None:
        return None
    answers = []
    for item in data:
        example = item["body"]
        time.sleep(SECONDS_PER_EXAMPLE)
        label = LABELS[len(example["hypothesis"]) % len(LABELS)]
        answers.append(task_io.sign_response({"id": example["uid"], "label": label}, example))
    return answers
