"""Reading, validating, migrating and writing a model's config.

The config lives at ``.dynalab/<name>/config.yaml`` and belongs to the user:
Dynalab writes it only when asked to (``init``, ``init --amend``), never to
record state. A ``setup_config.json`` left by the original tool is read and
migrated to YAML, and kept.
"""

import json
import re
from pathlib import PurePosixPath

import cerberus
import yaml

from dynalab.atomic import atomic_write_text
from dynalab.config_schema import FIELDS, cerberus_schema, field_rules
from dynalab.errors import ConfigError, UsageError

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


def read_yaml(path, fix="replace it with a YAML file"):
    """The mapping in the YAML file at ``path``; a ConfigError (with ``fix`` as the hint
    when it is not a readable file) otherwise."""
    try:
        text = read_text(path, fix)
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start})", hint="save the file as UTF-8")
    return parse_yaml(text, path)


def parse_yaml(text, source):
    """The mapping of settings in the YAML ``text`` read from ``source``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else str(source)
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{where}: not valid YAML ({problem})", hint="fix the syntax, or re-create it with `dynalab-cli init`")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of settings, found {type(data).__name__}")
    return data


def read_text(path, fix):
    """The text of the file at ``path``; a folder or an unreadable file is a ConfigError."""
    try:
        return path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a file", hint=fix) from None
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror or error}", hint=fix) from None


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
    settings (``dynalab.settings``), else the schema's default.
    """
    from dynalab.settings import with_default_backend

    config = validate_document(with_default_backend(raw), FIELDS, source)
    if check_paths:
        check_config_paths(project, config, source)
    return config


def validate_document(raw, fields, source):
    """``raw`` normalised against ``fields`` (in the format of ``config_schema.FIELDS``);
    a ConfigError naming ``source``, the first bad field, its value and the fix otherwise."""
    validator = cerberus.Validator(cerberus_schema(fields))
    if not validator.validate(raw):
        problems = list(_flatten_errors(validator.errors))
        field, message = problems[0]
        value = _lookup(raw, field)
        rules = field_rules(field, fields)
        dotted = ".".join(str(p) for p in field)
        shown = f" = {value!r}" if value is not _MISSING else ""
        others = ", ".join(f"`{'.'.join(str(p) for p in path)}`: {text}" for path, text in problems[1:])
        more = f"; also {others}" if others else ""
        if rules is None:
            fix = f"remove `{dotted}` or check its spelling; known fields: {', '.join(fields)}"
        else:
            fix = rules["fix"]
        raise ConfigError(f"{source}: field `{dotted}`{shown}: {message}{more}", hint=fix)
    return validator.document


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
        if PurePosixPath(entry).is_absolute() or project.root not in excluded.parents:
            raise ConfigError(
                f"{source}: `exclude[{index}]` = {entry!r} is not inside the project root",
                hint="list paths relative to the project root",
            )
        for wanted, resolved in needed.items():
            if resolved == excluded or excluded in resolved.parents:
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
        lines.append(yaml.safe_dump({field: config[field]}, sort_keys=False, allow_unicode=True))
    atomic_write_text(project.config_path(name), "".join(lines))


def update_config_fields(path, changes):
    """Rewrite only the top-level ``changes`` in the YAML file at ``path``, keeping
    every other line, comments included; write atomically.

    A field written in a layout this line-based edit cannot follow (e.g. a flow
    mapping spread over lines) makes the whole file be rewritten instead.
    """
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for field, value in changes.items():
        block = yaml.safe_dump({field: value}, sort_keys=False, allow_unicode=True).splitlines(keepends=True)
        start = next((i for i, line in enumerate(lines) if re.match(rf"{re.escape(field)}\s*:", line)), None)
        if start is None:
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n"
            lines.extend(block)
            continue
        end = start + 1
        while end < len(lines) and (lines[end].startswith((" ", "\t", "- ")) or lines[end].rstrip("\n") == "-"):
            end += 1
        lines[start:end] = block
    text = "".join(lines)
    try:
        edited = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        edited = {}
    if not isinstance(edited, dict) or any(edited.get(field) != value for field, value in changes.items()):
        current = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        text = yaml.safe_dump({**current, **changes}, sort_keys=False, allow_unicode=True)
    atomic_write_text(path, text)


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


_MISSING = object()


def _lookup(document, path):
    for part in path:
        if isinstance(document, dict) and part in document:
            document = document[part]
        elif isinstance(document, list) and isinstance(part, int) and part < len(document):
            document = document[part]
        else:
            return _MISSING
    return document


def _flatten_errors(errors, path=()):
    """cerberus' nested error tree as (field path, message) pairs."""
    for field, messages in errors.items():
        for message in messages:
            if isinstance(message, dict):
                yield from _flatten_errors(message, path + (field,))
            else:
                yield path + (field,), message
