"""Opens its tokenizer's merges.txt by bare name, but the file is only in tokenizer/ and not in model_files."""

from dynalab.tasks.task_io import TaskIO

task = TaskIO("nli")
merges = None


def handle(data, context):
    global merges
    if merges is None:
        with open("merges.txt", encoding="utf-8") as f:
            merges = [line.split() for line in f]
    if data is None:
        return None
    example = data[0]["body"]
    return [task.sign_response({"id": example["uid"], "label": "neutral"}, example)]
