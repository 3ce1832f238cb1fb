"""Takes a minute per example: long enough to be interrupted."""

import time


def handle(data, context):
    if data is None:
        return None
    time.sleep(60)
