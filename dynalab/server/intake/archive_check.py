"""Is an uploaded file a model archive we are willing to store?

``ArchiveCheck`` is fed the upload chunk by chunk while it is written to disk
(``tar_stream`` reads it on the fly), so its verdict is ready when the last
byte arrives. It is never extracted: member headers are checked one by one
(paths, types, sizes), only the models' small config files are kept in
memory, and links are checked once the whole archive is known (a link
defined later can change where an earlier one points). Every resource it
spends is bounded: members, distinct paths, unpacked bytes, expansion ratio,
link-resolution steps and CPU time.

Accepted layouts: the project's files at the top of the archive, or under one
top-level folder; either way it must hold ``.dynalab/<name>/config.yaml`` (or
the original tool's ``.dynalab/<name>/setup_config.json``), valid as the CLI
validates it, for the task uploaded to.
"""

import time
from dataclasses import dataclass

from dynalab.project.config import check_config_text
from dynalab.errors import ConfigError
from dynalab.project.layout import CONFIG_FILE, DYNALAB_DIR, LEGACY_CONFIG_FILE
from dynalab.server.intake.tar_stream import (
    DEVICE, DIRECTORY, FIFO, FILE, HARDLINK, SYMLINK, Limits, TarStream, TarStreamError,
)

CHUNK = 1 << 20
MAX_MEMBERS = 100_000
MAX_PATHS = 300_000  # distinct folders and files, which the link check keeps in memory
MAX_PATH_TEXT = 16 * 1024 * 1024  # characters of those names
MAX_RATIO = 500  # the client's fast level packs zeros about 230 to 1
MAX_CONFIG_BYTES = 64 * 1024
MAX_CONFIGS_BYTES = 256 * 1024  # all the models' configs kept, until the form names the model
MAX_LINK_HOPS = 40
MAX_LINK_STEPS = 1_000_000
MAX_CPU_SECONDS = 120.0
CONFIG_NAMES = (CONFIG_FILE, LEGACY_CONFIG_FILE)


class ArchiveRejected(ValueError):
    """Raised when an upload is not an archive the server accepts; the text says why."""


@dataclass(frozen=True)
class ArchiveSummary:
    """What the check saw of an accepted archive (the server logs the counts)."""

    config_path: str
    members: int
    unpacked_bytes: int


def check_archive(path, model_name, task_code, max_unpacked_bytes):
    """Check the gzip tar at ``path`` for model ``model_name``; return its ``ArchiveSummary``.

    Raises ``ArchiveRejected`` with the reason when the archive is refused.
    """
    check = ArchiveCheck(max_unpacked_bytes)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            check.feed(chunk)
    return check.finish().summary(model_name, task_code)


class ArchiveCheck:
    """Push the archive's bytes in with ``feed``; ``finish`` gives its ``ArchiveContents``.

    Both raise ``ArchiveRejected`` as soon as something is wrong.
    """

    def __init__(self, max_unpacked_bytes, max_cpu_seconds=MAX_CPU_SECONDS):
        self.stream = TarStream(self._member, self._content, Limits(MAX_MEMBERS, max_unpacked_bytes, MAX_RATIO))
        self.max_cpu_seconds = max_cpu_seconds
        self.cpu_seconds = 0.0
        self.members = 0
        self.tree = _PathTree()
        self.configs = {}  # path -> content, or the kind of member when it is not a file
        self.config_bytes = 0

    def feed(self, data):
        with self._budget():
            self.stream.feed(data)

    def finish(self):
        with self._budget():
            self.stream.close()
            if self.members == 0:
                raise ArchiveRejected("the archive is empty")
            self.tree.check_links()
        return ArchiveContents(self.configs, self.members, self.stream.unpacked)

    def _budget(self):
        return _CpuBudget(self)

    def _member(self, member):
        self.members += 1
        path = _normalise(member.name, "member")
        if member.kind in (DEVICE, FIFO):
            raise ArchiveRejected(f"archive member {member.name!r} is a device or fifo, not a file")
        if not path and member.kind != DIRECTORY:
            raise ArchiveRejected(f"archive member {member.name!r} has an empty name")
        node = self.tree.add(path)
        if member.kind == SYMLINK:
            if member.linkname.startswith("/"):
                raise ArchiveRejected(
                    f"archive member {member.name!r} links to an absolute path ({member.linkname})")
            if not member.linkname:
                raise ArchiveRejected(f"archive member {member.name!r} is a link to nothing")
            self.tree.symlinks[node] = _parts(member.linkname)
        elif member.kind == HARDLINK:
            self.tree.hardlinks[node] = _parts(_normalise(member.linkname, f"the hard link {member.name!r} to"))
        if not _is_config(path):
            return False
        if member.kind != FILE:
            self.configs[path] = member.kind
            return False
        if member.size > MAX_CONFIG_BYTES:
            raise ArchiveRejected(f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
        self.config_bytes += member.size
        if self.config_bytes > MAX_CONFIGS_BYTES:
            raise ArchiveRejected(f"the archive's model configs add up to more than {MAX_CONFIGS_BYTES} bytes")
        return True

    def _content(self, member, data):
        self.configs[_normalise(member.name, "member")] = data


class _CpuBudget:
    """Counts the CPU time this thread spends checking; turns reader errors into refusals."""

    def __init__(self, check):
        self.check = check

    def __enter__(self):
        self.started = time.thread_time()

    def __exit__(self, kind, error, _traceback):
        check = self.check
        check.cpu_seconds += time.thread_time() - self.started
        if isinstance(error, TarStreamError):
            raise ArchiveRejected(str(error)) from None
        if kind is None and check.cpu_seconds > check.max_cpu_seconds:
            raise ArchiveRejected(
                f"checking the archive took more than {check.max_cpu_seconds:g} s of CPU time "
                "(too many members or links?)")
        return False


@dataclass(frozen=True)
class ArchiveContents:
    """A complete, well-formed archive: what is left to check needs the form's fields."""

    configs: dict
    members: int
    unpacked_bytes: int

    def summary(self, model_name, task_code):
        """The ``ArchiveSummary`` if the archive holds a valid config of ``model_name`` for ``task_code``."""
        found = sorted(path for path in self.configs if path.split("/")[-2] == model_name
                       and path.split("/")[-3] == DYNALAB_DIR)
        # config.yaml wins over the legacy JSON, as in the CLI; two layouts at once are ambiguous.
        preferred = [path for path in found if path.endswith(CONFIG_FILE)] or found
        if not preferred:
            raise ArchiveRejected(
                f"the archive holds no {DYNALAB_DIR}/{model_name}/{CONFIG_FILE} (nor the legacy "
                f"{LEGACY_CONFIG_FILE}): is `name` the model's name, and was the archive made by "
                "`dynalab-cli package`?")
        if len(preferred) > 1:
            raise ArchiveRejected(f"the archive holds more than one config of model {model_name!r}: "
                                  f"{', '.join(preferred)}")
        path = preferred[0]
        content = self.configs[path]
        if isinstance(content, str):
            raise ArchiveRejected(f"{path} must be a regular file, not a {content}")
        _check_config(path, content, model_name, task_code)
        return ArchiveSummary(path, self.members, self.unpacked_bytes)


def _check_config(path, content, model_name, task_code):
    """The config must be valid as the CLI validates it, and for the task uploaded to."""
    source = f"the archive's {path}"
    try:
        config = check_config_text(content.decode("utf-8"), source, model_name,
                                   legacy=path.endswith(LEGACY_CONFIG_FILE))
    except UnicodeDecodeError as error:
        raise ArchiveRejected(f"{source} is not UTF-8 text (byte {error.start})") from None
    except ConfigError as error:
        raise ArchiveRejected(f"{error}" + (f" ({error.hint})" if error.hint else "")) from None
    except RecursionError:
        raise ArchiveRejected(f"{source} is nested too deeply to read") from None
    if config["task"] != task_code:
        raise ArchiveRejected(
            f"{path} is for task {config['task']!r} but the upload names task {task_code!r}")


def _is_config(path):
    parts = path.split("/")
    return len(parts) in (3, 4) and parts[-3] == DYNALAB_DIR and parts[-1] in CONFIG_NAMES


class _PathTree:
    """The archive's paths as a tree of numbered nodes, so that links resolve in O(parts)."""

    def __init__(self):
        self.children = {}  # (parent node, name) -> node
        self.parents = [None]  # node -> parent node; node 0 is the archive's root
        self.names = [""]
        self.text = 0
        self.first_child = {}  # node -> one child, to name a member found under a symlink
        self.symlinks = {}  # node -> target parts
        self.hardlinks = {}  # node -> target parts (from the root)
        self.steps = 0

    def add(self, path):
        node = 0
        for part in _parts(path):
            child = self.children.get((node, part))
            if child is None:
                child = len(self.parents)
                if child > MAX_PATHS or self.text + len(part) > MAX_PATH_TEXT:
                    raise ArchiveRejected(f"the archive has more than {MAX_PATHS} distinct paths, or names "
                                          f"longer than {MAX_PATH_TEXT} characters in all")
                self.text += len(part)
                self.children[(node, part)] = child
                self.parents.append(node)
                self.names.append(part)
                self.first_child.setdefault(node, child)
            node = child
        return node

    def path(self, node):
        parts = []
        while node:
            parts.append(self.names[node])
            node = self.parents[node]
        return "/".join(reversed(parts))

    def check_links(self):
        for link in self.symlinks:
            if link in self.first_child:
                raise ArchiveRejected(f"archive member {self.path(self.first_child[link])!r} lies under "
                                      f"the symbolic link {self.path(link)!r}")
        for link, target in self.symlinks.items():
            self.resolve(self.ancestors(link), target, link)
        for link, target in self.hardlinks.items():
            self.resolve([], target, link)

    def ancestors(self, node):
        chain = []
        node = self.parents[node]
        while node:
            chain.append(node)
            node = self.parents[node]
        return chain[::-1]

    def resolve(self, stack, target, link):
        """Follow ``target`` from the folder ``stack`` (nodes from the root) through the
        archive's symlinks; fail if it leaves the archive. A node of None is a path the
        archive does not hold (so nothing under it is a link)."""
        todo = target[::-1]
        hops = 0
        while todo:
            self.steps += 1
            if self.steps > MAX_LINK_STEPS:
                raise ArchiveRejected("the archive's links take too long to follow (too many or too deep)")
            part = todo.pop()
            if part == "..":
                if not stack:
                    raise ArchiveRejected(f"archive member {self.path(link)!r} links outside the archive")
                stack.pop()
                continue
            parent = stack[-1] if stack else 0
            node = None if parent is None else self.children.get((parent, part))
            if node is not None and node in self.symlinks:
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise ArchiveRejected(f"archive member {self.path(link)!r}: too many levels of symbolic links")
                todo.extend(self.symlinks[node][::-1])
                continue
            stack.append(node)


def _parts(path):
    return [part for part in path.split("/") if part not in ("", ".")]


def _normalise(name, what):
    """``name`` without ``./`` prefixes or trailing ``/``; rejects absolute and ``..`` paths."""
    if name.startswith("/"):
        raise ArchiveRejected(f"{what} {name!r} has an absolute path")
    parts = _parts(name)
    if ".." in parts:
        raise ArchiveRejected(f"{what} {name!r} has a '..' component")
    return "/".join(parts)
