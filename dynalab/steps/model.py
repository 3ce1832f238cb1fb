"""One model of the project as a command sees it, loaded once per command.

Its config, its task definition (written to ``.dynalab/<task>.json``, where the
package carries it), its steps' state, and the files of its package: the
project tree is walked once, and the fingerprint, the size warning and the
archive all read that one scan.
"""

import functools
from contextlib import contextmanager

from dynalab.errors import ConfigError
from dynalab.project.config import load_config
from dynalab.project.task_definitions import resolve_task_definition, write_packaged_copy
from dynalab.steps.cache.fingerprint import HashCache
from dynalab.steps.cache.state import State


class Model:
    """Model ``name`` of ``project`` (the only one initialised when ``name`` is None)."""

    def __init__(self, project, name):
        self.project = project
        self.name = project.resolve_model_name(name)
        self.config = load_config(project, self.name)
        self.source = project.relative(project.config_path(self.name))
        self.definition = resolve_task_definition(project, self.config, self.source)
        write_packaged_copy(project, self.definition)
        self.state = State(project.state_path(self.name))

    @functools.cached_property
    def files(self):
        """The files of the package (``packaging.selection.PackageFile``), scanned once."""
        from dynalab.packaging.selection import scan

        with unreadable_files_as_config_errors():
            return scan(self.project.root, self.name, self.config)

    def file_digests(self):
        """{relative path: sha256} of the packaged files and of the files the model needs."""
        needed = {self.config["handler"], self.config["checkpoint"], *self.config["model_files"]}
        root = self.project.root
        paths = {entry.path for entry in self.files} | {path for path in needed if (root / path).is_file()}
        with unreadable_files_as_config_errors(), HashCache(self.project.hash_cache_path) as hashes:
            return {relative: hashes.digest(root / relative) for relative in sorted(paths)}

    @property
    def archive_path(self):
        return self.project.build_dir(self.name) / f"{self.name}.tar.gz"

    def log_path(self, step):
        return self.project.logs_dir(self.name) / f"{step.replace('_', '-')}.log"


@contextmanager
def unreadable_files_as_config_errors():
    """A project file that cannot be read (permissions, vanished) is the user's to fix, not a bug."""
    try:
        yield
    except OSError as error:
        where = error.filename or "a project file"
        raise ConfigError(f"cannot read {where}: {error.strerror or error}",
                          hint="fix its permissions, or add it to `exclude` if the model does not need it") from None
