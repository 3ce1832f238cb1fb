"""Where things live in a model project.

A project is the folder the researcher runs ``dynalab-cli`` from (its root).
Everything Dynalab writes inside it goes under ``.dynalab/`` (per model:
``.dynalab/<name>/``), except past submissions in ``.dynalab_submissions/``.
"""

import os
import re
from pathlib import Path

from dynalab.errors import ConfigError, UsageError
from dynalab.files import is_inside

MODEL_NAME_PATTERN = re.compile(r"^[a-z0-9-]+$")

DYNALAB_DIR = ".dynalab"
SUBMISSIONS_DIR = ".dynalab_submissions"
CONFIG_FILE = "config.yaml"
LEGACY_CONFIG_FILE = "setup_config.json"
STATE_FILE = "state.yaml"


class Project:
    """A model project rooted at ``root`` (by default the working directory)."""

    def __init__(self, root=None):
        self.root = Path(root or os.getcwd()).resolve()

    @property
    def dynalab_dir(self):
        return self.root / DYNALAB_DIR

    @property
    def submissions_dir(self):
        return self.root / SUBMISSIONS_DIR

    def model_dir(self, name):
        """``.dynalab/<name>/``: config, step state, logs and build outputs of one model."""
        return self.dynalab_dir / check_model_name(name)

    def config_path(self, name):
        return self.model_dir(name) / CONFIG_FILE

    def legacy_config_path(self, name):
        return self.model_dir(name) / LEGACY_CONFIG_FILE

    def state_path(self, name):
        return self.model_dir(name) / STATE_FILE

    def logs_dir(self, name):
        return self.model_dir(name) / "logs"

    def build_dir(self, name):
        return self.model_dir(name) / "build"

    def task_definition_path(self, task_code):
        """The task definition cached for the packaged model, as the original tool did."""
        return self.dynalab_dir / f"{task_code}.json"

    @property
    def hash_cache_path(self):
        return self.dynalab_dir / "hash-cache.json"

    def model_names(self):
        """Names of the models initialised in this project, sorted."""
        if not self.dynalab_dir.is_dir():
            return []
        return sorted(
            entry.name
            for entry in self.dynalab_dir.iterdir()
            if entry.is_dir()
            and MODEL_NAME_PATTERN.match(entry.name)
            and ((entry / CONFIG_FILE).exists() or (entry / LEGACY_CONFIG_FILE).exists())
        )

    def resolve_model_name(self, name):
        """The model a command is about: ``name``, or the only one initialised."""
        if name:
            return check_model_name(name)
        names = self.model_names()
        if len(names) == 1:
            return names[0]
        if not names:
            raise UsageError(
                f"no model is initialised in {self.root}",
                hint=self.run_from_root_hint() or "run `dynalab-cli init -n NAME` from your project's root first",
            )
        raise UsageError(
            f"several models are initialised here ({', '.join(names)}): say which with -n NAME"
        )

    def run_from_root_hint(self):
        """When run from inside an initialised project's subfolder: where to run from."""
        for parent in self.root.parents:
            if Project(parent).model_names():
                return f"run dynalab-cli from the project's root: cd {parent}"
        return None

    def inside(self, relative_path, field, source):
        """The absolute path of ``relative_path``, which must exist inside the root.

        ``field`` and ``source`` (the config file) name the setting in errors.
        Symlinks are resolved: one that points outside the root is an error,
        since the file would be missing from the package.
        """
        if relative_path is None or str(relative_path).strip() == "":
            raise ConfigError(f"{source}: `{field}` is empty", hint=f"set `{field}` to a path inside {self.root}")
        path = Path(relative_path)
        absolute = path if path.is_absolute() else self.root / path
        if not os.path.lexists(absolute):
            raise ConfigError(
                f"{source}: `{field}` names {relative_path!r}, which does not exist",
                hint=f"paths are relative to the project root {self.root}",
            )
        resolved = absolute.resolve()
        if not self.contains(resolved):
            raise ConfigError(
                f"{source}: `{field}` names {relative_path!r}, which resolves to {resolved}, outside the project root {self.root}",
                hint="copy the file into the project folder instead of linking to it",
            )
        return resolved

    def contains(self, path):
        """True when ``path``, its symlinks resolved, is the root or lies inside it."""
        return is_inside(Path(path).resolve(), self.root)

    def relative(self, path):
        """``path`` relative to the root, with forward slashes."""
        return Path(path).resolve().relative_to(self.root).as_posix()


def check_model_name(name):
    if not isinstance(name, str) or not MODEL_NAME_PATTERN.match(name):
        raise UsageError(
            f"invalid model name {name!r}",
            hint="use lowercase letters, digits and dashes only, e.g. `my-model-1`",
        )
    return name
