"""Loads at once, then never answers a request; says which process it is."""

import os
import time

from dynalab.tasks.task_io import ROOTPATH


def handle(data, context):
    if data is None:
        return None
    with open(os.path.join(ROOTPATH, "handler.pid"), "w") as f:
        f.write(str(os.getpid()))
    time.sleep(3600)
