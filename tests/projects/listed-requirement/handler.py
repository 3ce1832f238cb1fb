"""Its model file imports a package that requirements.txt lists, but the config does not install requirements.txt."""

import model  # a model file: it imports yaml

from dynalab.tasks.task_io import TaskIO

task = TaskIO("nli")


def handle(data, context):
    if data is None:
        return None
    example = data[0]["body"]
    response = {"id": example["uid"], "label": model.label_of(example["hypothesis"])}
    return [task.sign_response(response, example)]
