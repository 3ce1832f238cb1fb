"""Answers every nli example, except one whose hypothesis says "hungry": for it, it allocates 1 GB first."""

from dynalab.tasks.task_io import TaskIO

task_io = TaskIO("nli")
ballast = []


def handle(data, context):
    if data is None:
        return None
    example = data[0]["body"]
    if "hungry" in example["hypothesis"]:
        for _ in range(16):  # 1 GB, touched 64 MB at a time: past the test task's memory limit
            ballast.append(b"\1" * (64 << 20))
    return [task_io.sign_response({"id": example["uid"], "label": "neutral"}, example)]
