"""Downloads its weights when the model loads (the URL is in url.txt, a model file)."""

import urllib.request

from dynalab.tasks.task_io import TaskIO

task = TaskIO("nli")


def handle(data, context):
    if data is None:  # loading: fetch the weights
        with open("url.txt") as f:
            urllib.request.urlopen(f.read().strip(), timeout=10).read()
        return None
    example = data[0]["body"]
    response = {"id": example["uid"], "label": "neutral"}
    task.sign_response(response, example)
    return [response]
