"""Which project files go into a model's submission archive.

The project root minus ``exclude``, minus ``.dynalab/`` (except this model's
``config.yaml`` and the packaged task definition), minus past submissions,
minus VCS and cache folders. A symlink is packaged as the file or folder it
points to, which must lie inside the root.
"""

import os
import posixpath
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from dynalab.errors import ConfigError
from dynalab.files import is_inside, relative_inside
from dynalab.project.layout import CONFIG_FILE, DYNALAB_DIR, SUBMISSIONS_DIR

SKIPPED_DIRS = {".git", ".hg", ".svn", "__pycache__", ".pytest_cache", ".mypy_cache", ".ipynb_checkpoints"}
SKIPPED_SUFFIXES = (".pyc",)


@dataclass(frozen=True)
class PackageFile:
    """One file of the package, as ``scan`` found it."""

    path: str  # relative, posix: the member name
    source: str  # absolute path to read (a symlink's target is read as the file)
    size: int
    mtime_ns: int
    executable: bool


def list_package_files(project_root, name, config):
    """The relative posix paths the archive of model ``name`` holds, sorted."""
    return [entry.path for entry in scan(Path(project_root).resolve(), name, config)]


def scan(root, name, config):
    """The ``PackageFile`` entries of model ``name`` under the resolved ``root``, sorted by path."""
    rules = ExcludeRules(root, config.get("exclude") or [])
    entries = []
    _walk(root, root, "", rules, entries, active={str(root)})
    for special in (f"{DYNALAB_DIR}/{name}/{CONFIG_FILE}", f"{DYNALAB_DIR}/{config['task']}.json"):
        absolute = root / special
        if absolute.is_file() and not absolute.is_symlink():
            entries.append(_entry(special, absolute))
    return sorted(entries, key=lambda entry: entry.path)


class ExcludeRules:
    """``exclude`` entries: paths relative to the root (a folder excludes its content), or globs."""

    def __init__(self, root, patterns):
        self.paths, self.globs = set(), []
        for pattern in patterns:
            text = str(pattern).replace("\\", "/")
            if os.path.isabs(text):
                text = relative_inside(os.path.realpath(text), root)
                if text is None:
                    continue  # outside the root: nothing there is packaged anyway
            text = posixpath.normpath(text).lstrip("/")
            if any(char in text for char in "*?["):
                self.globs.append(text)
            else:
                self.paths.add(text)

    def match(self, relative):
        """The exclude entry that leaves ``relative`` out, or None."""
        parts = relative.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if prefix in self.paths:
                return prefix
            for glob in self.globs:
                if fnmatchcase(prefix, glob):
                    return glob
        return None


def _walk(root, directory, prefix, rules, entries, active):
    try:
        children = sorted(os.scandir(directory), key=lambda child: child.name)
    except OSError as error:
        raise ConfigError(f"cannot read folder {prefix or '.'}: {error.strerror}")
    for child in children:
        relative = prefix + child.name
        if not prefix and child.name in (DYNALAB_DIR, SUBMISSIONS_DIR):
            continue  # only the files named in scan are packaged from there
        if child.name in SKIPPED_DIRS or child.name.endswith(SKIPPED_SUFFIXES) or rules.match(relative):
            continue
        real = child.path
        if child.is_symlink():
            real = _check_link(root, relative, child.path)
        if os.path.isdir(real):
            if real in active:
                continue  # a link back to a folder being walked: its files are packaged once already
            _walk(root, real, relative + "/", rules, entries, active | {real})
        elif os.path.isfile(real):
            entries.append(_entry(relative, real))
        # sockets, fifos and devices have no place in a package


def _check_link(root, relative, path):
    """A symlink is packaged as what it points to, which must exist inside the root."""
    real = os.path.realpath(path)
    if not os.path.exists(real):
        raise ConfigError(
            f"{relative} is a symlink to {os.readlink(path)}, which does not exist",
            hint="remove the link, or add it to `exclude`",
        )
    if not is_inside(real, root):
        raise ConfigError(
            f"{relative} is a symlink to {real}, outside the project root {root}",
            hint="copy the file into the project instead of linking to it, or add the link to `exclude`",
        )
    return real


def _entry(relative, source):
    stat = os.stat(source)
    return PackageFile(relative, os.fspath(source), stat.st_size, stat.st_mtime_ns, bool(stat.st_mode & 0o111))
