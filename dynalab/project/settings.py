"""This machine's settings: ``~/.dynalab/settings.yaml`` (under ``$DYNALAB_HOME`` when set).

What depends on the machine rather than on a project: the docker backend's
base image, a folder of wheels, the evaluation server, the backend used by
default. The file uses the names of a model config's fields::

    api_url: https://leaderboard.example.org/api
    integrated_test:
      backend: docker
      docker:
        base_image: local/debian-py:bookworm
        wheelhouse: /srv/wheels

Each value is the first found of: the flag (``--api-url``, ``--backend``), the
environment variable (where there is one), the model's config, this file, the
built-in default. For ``api_url`` the server of the last ``login`` comes just
before the default (see ``dynalab.client.api``). ``dynalab-cli doctor`` shows
every value and where it comes from.

``python -m dynalab.settings set [--if-unset] FIELD VALUE`` changes one value
(``.ci/setup`` records the base image it built this way).
"""

import copy
import os
from pathlib import Path
from typing import NamedTuple, Optional

from dynalab.errors import ConfigError
from dynalab.files import atomic_write_text
from dynalab.project.documents import read_yaml, update_fields
from dynalab.project.schema import field_rules, validate_document

HOME_ENV = "DYNALAB_HOME"
"""Replaces the home directory, for tests and for shared machines."""
SETTINGS_FILE = "settings.yaml"
HEADER = "# Dynalab's settings for this machine; `dynalab-cli doctor` shows what is in effect.\n"


class Setting(NamedTuple):
    path: tuple
    """Where it sits in a model config and in the settings file."""
    env: Optional[str]
    default: object


SETTINGS = {
    "api_url": Setting(("api_url",), "DYNALAB_API_URL", None),
    "backend": Setting(("integrated_test", "backend"), None, "sandbox"),
    "base_image": Setting(("integrated_test", "docker", "base_image"), "DYNALAB_DOCKER_BASE_IMAGE", "python:3.11-slim"),
    "wheelhouse": Setting(("integrated_test", "docker", "wheelhouse"), "DYNALAB_WHEELHOUSE", None),
}


class Resolved(NamedTuple):
    value: object
    source: str
    """The flag, environment variable or file it came from, or "default"."""


def user_dir():
    """``~/.dynalab``, or ``$DYNALAB_HOME/.dynalab``: the login's secrets and these settings."""
    return Path(os.environ.get(HOME_ENV) or os.path.expanduser("~")) / ".dynalab"


def settings_path():
    return user_dir() / SETTINGS_FILE


def user_settings():
    """The settings file's contents, validated (``{}`` when there is none); ConfigError when bad."""
    path = settings_path()
    if not os.path.lexists(path):
        return {}
    raw = read_yaml(path, fix=f"make {path} a YAML file of settings, or delete it")
    return validate_document(raw, _fields(), str(path))


def user_value(name):
    """The settings file's value of setting ``name``, or None."""
    return field_value(user_settings(), SETTINGS[name].path)


def resolve(name, config=None, config_source="the model's config", flag=None, flag_name=None):
    """The value of setting ``name`` and where it comes from, as ``Resolved``.

    ``config`` is a model's config (validated or as written: a missing or null
    field counts as not set); ``flag`` a value given on the command line.
    """
    setting = SETTINGS[name]
    candidates = [(flag_name, flag)]
    if setting.env:
        candidates.append((setting.env, os.environ.get(setting.env)))
    candidates.append((config_source, field_value(config, setting.path)))
    candidates.append((str(settings_path()), user_value(name)))
    for source, value in candidates:
        if value is not None and str(value).strip():
            return Resolved(value, source)
    return Resolved(setting.default, "default")


def with_default_backend(raw):
    """``raw`` (a model config as written) with the settings' backend when it names none."""
    backend = user_value("backend") if isinstance(raw, dict) else None
    section = raw.get("integrated_test", {}) if backend else None
    if not isinstance(section, dict) or section.get("backend") is not None:
        return raw
    return {**raw, "integrated_test": {**section, "backend": backend}}


def set_value(dotted, value):
    """Set one setting (``integrated_test.docker.base_image``) in the file, validated first;
    the file's other lines and comments stay as they are."""
    path = tuple(dotted.split("."))
    if path not in {setting.path for setting in SETTINGS.values()}:
        known = ", ".join(".".join(setting.path) for setting in SETTINGS.values())
        raise ConfigError(f"no setting `{dotted}`", hint=f"known settings: {known}")
    current = copy.deepcopy(user_settings())
    target = current
    for part in path[:-1]:
        target = target.setdefault(part, {})
    target[path[-1]] = value
    validate_document(current, _fields(), str(settings_path()))
    file = settings_path()
    if not file.exists():
        atomic_write_text(file, HEADER)
    update_fields(file, {path: value})
    return file


def _fields():
    """The rules of the settings: the model config's, for the fields above, without defaults."""
    fields = {}
    for setting in SETTINGS.values():
        level = fields
        for depth, part in enumerate(setting.path):
            rules = field_rules(setting.path[: depth + 1])
            if depth < len(setting.path) - 1:
                entry = level.setdefault(part, {**_without_defaults(rules), "schema": {}})
                level = entry["schema"]
            else:
                level[part] = {**_without_defaults(rules), "nullable": True}
    return fields


def _without_defaults(rules):
    return {key: value for key, value in rules.items() if key not in ("default", "required", "schema")}


def field_value(document, path):
    """The value at ``path`` in the nested mapping ``document``, or None."""
    for part in path:
        if not isinstance(document, dict):
            return None
        document = document.get(part)
    return document
