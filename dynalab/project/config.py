"""Reading, validating, migrating and writing a model's config.

The config lives at ``.dynalab/<name>/config.yaml`` and belongs to the user:
Dynalab writes it only when asked to (``init``, ``init --amend``), never to
record state. A ``setup_config.json`` left by the original tool is read and
migrated to YAML, and kept.
"""

import json
from pathlib import PurePosixPath

import yaml

from dynalab.errors import ConfigError, UsageError
from dynalab.files import atomic_write_text, is_inside
from dynalab.project.documents import parse_yaml, read_text, read_yaml
from dynalab.project.schema import FIELDS, validate_document
from dynalab.project.settings import with_default_backend

PATH_FIELDS = ("checkpoint", "handler")
HEADER = (
    "# Dynalab config of model {name!r}. Paths are relative to the project root.\n"
    "# Check it with `dynalab-cli test --local -n {name}`; field reference: `dynalab-cli init --help`.\n"
)


def load_config(project, name, check_paths=True):
    """The validated, normalised config of model ``name`` (legacy JSON migrated)."""
    path = project.config_path(name)
    if not path.exists():
        legacy = project.legacy_config_path(name)
        if legacy.exists():
            return migrate_legacy_config(project, name, check_paths=check_paths)
        known = project.model_names()
        raise UsageError(
            f"model {name!r} is not initialised in {project.root}"
            + (f" (initialised: {', '.join(known)})" if known else ""),
            hint=project.run_from_root_hint() or f"run `dynalab-cli init -n {name}` from your project's root",
        )
    raw = read_yaml(path, fix=f"move it out of the way, then re-create the config: dynalab-cli init -n {name}")
    return validate_config(project, raw, source=project.relative(path), check_paths=check_paths)


def check_config_text(text, source, name, legacy=False):
    """The config of model ``name`` in ``text`` (YAML, or the original tool's JSON when
    ``legacy``), validated as the CLI does but without checking paths: what an
    evaluation server can check of an uploaded archive."""
    raw = parse_legacy_json(text, source, name) if legacy else parse_yaml(text, source)
    # Not validate_config: the server's own user settings must not change what an upload means.
    return validate_document(raw, FIELDS, source)


def validate_config(project, raw, source, check_paths=True):
    """Normalise ``raw`` against the schema; raise ConfigError naming the first problem.

    A config that names no ``integrated_test.backend`` gets the one of the user's
    settings (``settings.py``), else the schema's default.
    """
    config = validate_document(with_default_backend(raw), FIELDS, source)
    if check_paths:
        check_config_paths(project, config, source)
    return config


def check_config_paths(project, config, source):
    """Every path must be relative and exist inside the root; the model's files must
    be files with distinct names (they are placed side by side), and none excluded."""
    named = [(field, config[field]) for field in PATH_FIELDS]
    named += [(f"model_files[{index}]", entry) for index, entry in enumerate(config["model_files"])]
    needed = {entry: _relative_inside(project, entry, field, source) for field, entry in named}
    for field in PATH_FIELDS:
        if not needed[config[field]].is_file():
            raise ConfigError(
                f"{source}: `{field}` = {config[field]!r} is not a file",
                hint="name the file itself" + (" (a folder of weights can go in `model_files`)" if field == "checkpoint" else ""),
            )
    _check_placement(named, source)
    if config.get("task_file"):
        _relative_inside(project, config["task_file"], "task_file", source)
    check_excludes(project, config["exclude"], needed, source)


def check_model_files(project, entries, source, beside=()):
    """The ``model_files`` ``entries`` exist inside the root and none shares its bare name
    with another or with the files ``beside`` them (handler, checkpoint); returns
    {entry: resolved path}."""
    named = [(f"model_files[{index}]", entry) for index, entry in enumerate(entries)]
    resolved = {entry: _relative_inside(project, entry, field, source) for field, entry in named}
    _check_placement([(field, entry) for field, entry in zip(PATH_FIELDS, beside)] + named, source)
    return resolved


def check_excludes(project, entries, needed, source):
    """The ``exclude`` ``entries`` lie inside the root and leave out none of the paths
    ``needed`` ({entry: resolved path}: handler, checkpoint, model files)."""
    for index, entry in enumerate(entries):
        excluded = (project.root / entry).resolve()
        if PurePosixPath(entry).is_absolute() or excluded == project.root or not project.contains(excluded):
            raise ConfigError(
                f"{source}: `exclude[{index}]` = {entry!r} is not inside the project root",
                hint="list paths relative to the project root",
            )
        for wanted, resolved in needed.items():
            if is_inside(resolved, excluded):
                raise ConfigError(
                    f"{source}: `exclude[{index}]` = {entry!r} excludes {wanted!r}, which the model needs",
                    hint=f"remove {entry!r} from `exclude`, or exclude a narrower path",
                )


def _check_placement(named, source):
    """No two of the ``named`` (field, path) files share a bare name: they are placed side by side."""
    placed = {}
    for field, entry in named:
        bare = PurePosixPath(entry).name
        if bare in placed and placed[bare] != entry:
            raise ConfigError(
                f"{source}: `{field}` = {entry!r} and {placed[bare]!r} would both be placed next to the handler as {bare!r}",
                hint="rename one of them: model files are flattened into one folder",
            )
        placed[bare] = entry


def _relative_inside(project, entry, field, source):
    resolved = project.inside(entry, field, source)
    if PurePosixPath(entry).is_absolute():
        raise ConfigError(
            f"{source}: `{field}` = {entry!r} is an absolute path",
            hint=f"use the path relative to the project root: {project.relative(entry)}",
        )
    return resolved


def save_config(project, name, config):
    """Write the config as commented YAML, atomically."""
    lines = [HEADER.format(name=name)]
    for field, rules in FIELDS.items():
        if field not in config:
            continue
        lines.append(f"\n# {rules['description']}\n")
        lines.append(yaml.safe_dump({field: _without_unset_deprecated(config[field], rules)}, sort_keys=False,
                                    allow_unicode=True))
    atomic_write_text(project.config_path(name), "".join(lines))


def _without_unset_deprecated(value, rules):
    """``value`` without the fields no longer used that hold no value (``null`` would only puzzle)."""
    if not isinstance(value, dict) or rules.get("type") != "dict":
        return value
    fields = rules.get("schema", {})
    return {key: _without_unset_deprecated(item, fields.get(key, {})) for key, item in value.items()
            if not (item is None and fields.get(key, {}).get("deprecated"))}


def deprecated_limit_notes(config, limits):
    """One note per field of ``config`` no longer used whose value differs from the task's limit that decides.

    ``integrated_test.startup_timeout``, ``request_timeout``, ``docker.cpus``
    and ``docker.memory`` (configs of Dynalab 0.2.0 hold them) are accepted;
    the task's ``limits`` (``dynalab.tasks.limits``) decide.
    """
    from dynalab.project.schema import describe_deprecated
    from dynalab.sizes import parse_size

    notes = []
    for path, limit in describe_deprecated():
        value = config
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            continue
        task_value = limits[limit]
        same = parse_size(value) == parse_size(task_value) if limit == "memory" else float(value) == float(task_value)
        if not same:
            notes.append(f"note: `{'.'.join(path)}: {value}` in the model config is no longer used; "
                         f"the task's limit decides: {limit} = {task_value}")
    return notes


def migrate_legacy_config(project, name, check_paths=True):
    """Read the original tool's ``setup_config.json`` and save it as ``config.yaml``."""
    legacy = project.legacy_config_path(name)
    source = project.relative(legacy)
    try:
        text = read_text(legacy, fix=f"move it out of the way, then re-create the config: dynalab-cli init -n {name}")
    except ValueError as error:  # not UTF-8
        raise ConfigError(f"{source}: not valid JSON ({error})", hint=f"fix it, or re-create the config with `dynalab-cli init -n {name}`")
    known = parse_legacy_json(text, source, name)
    config = validate_config(project, known, source=source, check_paths=check_paths)
    save_config(project, name, config)
    return config


def parse_legacy_json(text, source, name):
    """The settings we still use from the original tool's ``setup_config.json`` text."""
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"{source}: not valid JSON ({error})", hint=f"fix it, or re-create the config with `dynalab-cli init -n {name}`")
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a JSON object of settings")
    # The original stored a few fields we no longer need.
    return {key: value for key, value in raw.items() if key in FIELDS}
