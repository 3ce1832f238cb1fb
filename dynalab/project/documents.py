"""The YAML files Dynalab reads and edits: the model configs and this machine's settings.

Reading gives a mapping, or a ``ConfigError`` naming the file (and the line,
for bad syntax) and the fix. Editing is round-trip (``ruamel.yaml``): the
fields changed get their new values, and every other line, the user's
comments and the order of the fields stay as they were. PyYAML reads (it is
faster to import, and every step reads a config); ruamel.yaml only edits.
"""

import io

import yaml

from dynalab.errors import ConfigError
from dynalab.files import atomic_write_text


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


def update_fields(path, changes):
    """Set the fields ``changes`` ({name or tuple of names along nested mappings: value}) in the
    YAML file at ``path``, keeping the comments, the order and every other field; written atomically."""
    editor = _round_trip()
    original = path.read_text(encoding="utf-8")
    document = editor.load(original)
    prefix = ""
    if document is None:  # nothing but comments (a fresh settings file): keep them above the fields
        document, prefix = _commented_map(), original
    for field, value in changes.items():
        names = (field,) if isinstance(field, str) else tuple(field)
        mapping = document
        for name in names[:-1]:
            if not isinstance(mapping.get(name), dict):
                _set_keeping_comments(mapping, name, _commented_map())
            mapping = mapping[name]
        _set_keeping_comments(mapping, names[-1], value)
    text = io.StringIO()
    editor.dump(document, text)
    atomic_write_text(path, prefix + text.getvalue())


def _round_trip():
    from ruamel.yaml import YAML  # round-trip editing is needed only here

    editor = YAML()  # round-trip mode: comments and layout are part of the document
    editor.width = 4096  # never fold a long value onto two lines
    # null as the config's other fields write it, not as an empty value
    editor.representer.add_representer(type(None), lambda dumper, _: dumper.represent_scalar("tag:yaml.org,2002:null", "null"))
    return editor


def _commented_map():
    from ruamel.yaml.comments import CommentedMap

    return CommentedMap()


def _set_keeping_comments(mapping, key, value):
    """``mapping[key] = value``, and the comment that followed the old value (in a round-trip
    document: the comment above the next field) follows the new one."""
    from ruamel.yaml.comments import CommentedSeq

    comment = _pop_trailing_comment(mapping.get(key))
    entry = mapping.ca.items.get(key)
    if comment is None and entry and entry[2] is not None:
        comment, entry[2] = entry[2], None
    if isinstance(value, list):
        value = CommentedSeq(value)
    mapping[key] = value
    if comment is None:
        return
    if isinstance(value, CommentedSeq) and value:
        value.ca.items[len(value) - 1] = [comment, None, None, None]
    else:
        mapping.ca.items.setdefault(key, [None, None, None, None])[2] = comment


def _pop_trailing_comment(value):
    """Take the comment after the last item of a round-trip list or mapping (nested ones too), or None."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, CommentedSeq) and value:
        last, slot, inner = len(value) - 1, 0, value[-1]
    elif isinstance(value, CommentedMap) and value:
        last = list(value)[-1]
        slot, inner = 2, value[last]
    else:
        return None
    entry = value.ca.items.get(last)
    if entry and entry[slot] is not None:
        comment, entry[slot] = entry[slot], None
        return comment
    return _pop_trailing_comment(inner)
