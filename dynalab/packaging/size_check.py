"""The deployment's size limit: warn before a package is too big to deploy."""

import heapq

from dynalab.sizes import human_size

LIMIT_BYTES = 2 * 1024**3


def warn_if_too_big(entries, name, out=print, limit=LIMIT_BYTES):
    """Warn when the files of ``entries`` (a ``selection.scan``) exceed ``limit``, naming the biggest
    top-level entries; returns the total size."""
    sizes = {}
    for entry in entries:
        top = entry.path.split("/", 1)[0]
        sizes[top] = sizes.get(top, 0) + entry.size
    total = sum(sizes.values())
    if total <= limit:
        return total
    largest = heapq.nlargest(5, sizes.items(), key=lambda item: item[1])
    listing = ", ".join(f"{path} ({human_size(size)})" for path, size in largest)
    out(
        f"warning: the package would hold {human_size(total)}, above the {human_size(limit)} limit. "
        f"Largest entries: {listing}. Add unused ones to `exclude` (dynalab-cli init -n {name} --amend --exclude ...)."
    )
    return total
