"""The deployment's size limit: warn before a package is too big to deploy."""

import heapq
import os

LIMIT_BYTES = 2 * 1024**3


def warn_if_too_big(project, name, config, out=print, limit=LIMIT_BYTES):
    """Warn when what would be packaged exceeds ``limit``, naming the biggest entries."""
    from dynalab.packaging import list_package_files

    sizes = {}
    for relative in list_package_files(project.root, name, config):
        top = relative.split("/", 1)[0]
        sizes[top] = sizes.get(top, 0) + os.path.getsize(project.root / relative)
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


def human_size(size):
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{size} B"
        size /= 1024
