"""Needs more memory at load time than the container's limit."""

ballast = []


def handle(data, context):
    if data is None:
        for _ in range(16):  # 1 GB, touched 64 MB at a time
            ballast.append(b"\1" * (64 << 20))
    return None
