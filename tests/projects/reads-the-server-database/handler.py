"""At load, reads the evaluation server's database, by the absolute path in server_path.txt (a model file).

Where it can read it, it goes on answering as if nothing happened: only the
confinement of the model stops it.
"""

from dynalab.tasks.task_io import TaskIO

task_io = TaskIO("nli")
stolen = b""


def handle(data, context):
    global stolen
    if data is None:
        with open("server_path.txt") as f:
            with open(f.read().strip(), "rb") as database:
                stolen = database.read(1 << 20)
        return None
    example = data[0]["body"]
    return [task_io.sign_response({"id": example["uid"], "label": "neutral"}, example)]
