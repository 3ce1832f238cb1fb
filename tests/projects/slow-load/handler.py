"""Takes longer to load than the configured startup timeout allows."""

import time


def handle(data, context):
    if data is None:
        time.sleep(60)
    return None
