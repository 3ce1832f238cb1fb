"""The model config schema, as data: one entry per field, each with a description; and its validation.

Validated with cerberus. ``description`` and ``fix`` are ours (cerberus ignores
unknown rules only if we strip them), so ``cerberus_schema()`` removes them
before handing the schema over; ``validate_document`` turns cerberus' errors
into one line naming the field, its value and the fix; ``describe()`` renders
the reference in the README and in ``dynalab-cli init --help``.
"""

import copy

from dynalab.errors import ConfigError
from dynalab.sizes import SIZE_PATTERN

BACKENDS = ("sandbox", "docker")
CARD_DESCRIPTION_MAX = 5000
URL_MAX = 500
LICENSE_MAX = 100
URL_PATTERN = r"(https?://\S+)?"  # empty, or one http(s) address

FIELDS = {
    "task": {
        "type": "string",
        "required": True,
        "empty": False,
        "description": "Code of the task the model is for (e.g. nli, qa, sentiment, hs, vqa).",
        "fix": "set `task` to a task code; `dynalab-cli init -h` lists them",
    },
    "task_file": {
        "type": "string",
        "nullable": True,
        "default": None,
        "description": "Path to a YAML task definition, for a task that is not built in.",
        "fix": "set `task_file` to a YAML file inside the project, or remove it",
    },
    "checkpoint": {
        "type": "string",
        "required": True,
        "empty": False,
        "description": "Path to the model checkpoint; the handler gets it as `model_pt_path`.",
        "fix": "set `checkpoint` to the path of your weights file",
    },
    "handler": {
        "type": "string",
        "required": True,
        "empty": False,
        "regex": r".*\.py",
        "description": "Path to the handler (.py) that defines `handle(data, context)`.",
        "fix": "set `handler` to the path of a .py file",
    },
    "requirements": {
        "type": "boolean",
        "default": False,
        "description": "Install requirements.txt (pip install -r) in the deployment environment.",
        "fix": "use true or false",
    },
    "setup": {
        "type": "boolean",
        "default": False,
        "description": "Install the project with its setup.py (pip install -e .) in the deployment environment.",
        "fix": "use true or false",
    },
    "model_files": {
        "type": "list",
        "schema": {"type": "string", "empty": False},
        "default": [],
        "description": "Extra files placed next to the handler, read and imported by bare name.",
        "fix": "use a list of paths, e.g. [vocab.json, src/my_model.py]",
    },
    "exclude": {
        "type": "list",
        "schema": {"type": "string", "empty": False},
        "default": [],
        "description": "Files and folders left out of the package (e.g. unused checkpoints, data).",
        "fix": "use a list of paths, e.g. [checkpoints_folder, data]",
    },
    "batched": {
        "type": "boolean",
        "default": False,
        "description": "The handler takes a batch: one body of JSON lines, one response line each.",
        "fix": "use true or false",
    },
    "gpu": {
        "type": "boolean",
        "default": False,
        "description": "Deploy on a GPU; the handler gets `cuda:<id>` as device when one is there.",
        "fix": "use true or false",
    },
    "integrated_test": {
        "type": "dict",
        "default": {},
        "description": "Settings of the integrated test.",
        "fix": "use a mapping of the settings below",
        "schema": {
            "backend": {
                "type": "string",
                "allowed": list(BACKENDS),
                "default": "sandbox",
                "description": "Where the packaged model runs: `sandbox` (no Docker needed) or `docker`.",
                "fix": "use sandbox or docker",
            },
            "startup_timeout": {
                "type": "number",
                "min": 1,
                "nullable": True,
                "default": None,
                "deprecated": "load_timeout",
                "description": "Not used: the task's `limits.load_timeout` decides (a different value gets a note).",
                "fix": "use a number of seconds, or remove it: the task's limits decide",
            },
            "request_timeout": {
                "type": "number",
                "min": 1,
                "nullable": True,
                "default": None,
                "deprecated": "request_timeout",
                "description": "Not used: the task's `limits.request_timeout` decides (a different value gets a note).",
                "fix": "use a number of seconds, or remove it: the task's limits decide",
            },
            "docker": {
                "type": "dict",
                "default": {},
                "description": "Settings of the docker backend.",
                "fix": "use a mapping of the settings below",
                "schema": {
                    "base_image": {
                        "type": "string",
                        "nullable": True,
                        "default": None,
                        "description": "Base image (env DYNALAB_DOCKER_BASE_IMAGE overrides; default: your settings', else python:3.11-slim).",
                        "fix": "use an image name such as python:3.11-slim",
                    },
                    "wheelhouse": {
                        "type": "string",
                        "nullable": True,
                        "default": None,
                        "description": "Folder of wheels for offline builds (env DYNALAB_WHEELHOUSE overrides; default: your settings').",
                        "fix": "use the path of a folder holding .whl files",
                    },
                    "cpus": {
                        "type": "number",
                        "min": 0.1,
                        "nullable": True,
                        "default": None,
                        "deprecated": "cpus",
                        "description": "Not used: the task's `limits.cpus` decides (a different value gets a note).",
                        "fix": "use a number of CPUs, or remove it: the task's limits decide",
                    },
                    "memory": {
                        "type": "string",
                        "regex": SIZE_PATTERN,
                        "nullable": True,
                        "default": None,
                        "deprecated": "memory",
                        "description": "Not used: the task's `limits.memory` decides (a different value gets a note).",
                        "fix": "use a size such as 16g or 512m, or remove it: the task's limits decide",
                    },
                },
            },
        },
    },
    "card": {
        "type": "dict",
        "default": {},
        "description": "The model card, shown on the model's page and sent with the upload.",
        "fix": "use a mapping of the fields below",
        "schema": {
            "description": {
                "type": "string",
                "maxlength": CARD_DESCRIPTION_MAX,
                "default": "",
                "description": "What the model is and how it was trained (plain text, paragraphs kept).",
                "fix": f"use a text of at most {CARD_DESCRIPTION_MAX} characters",
            },
            "paper_url": {
                "type": "string",
                "regex": URL_PATTERN,
                "maxlength": URL_MAX,
                "default": "",
                "description": "Link to the paper describing the model.",
                "fix": "use an http(s) address such as https://arxiv.org/abs/1234.5678, or leave it empty",
            },
            "code_url": {
                "type": "string",
                "regex": URL_PATTERN,
                "maxlength": URL_MAX,
                "default": "",
                "description": "Link to the model's code.",
                "fix": "use an http(s) address such as https://github.com/you/model, or leave it empty",
            },
            "license": {
                "type": "string",
                "maxlength": LICENSE_MAX,
                "default": "",
                "description": "The model's license (e.g. MIT, CC-BY-4.0).",
                "fix": f"use a license name of at most {LICENSE_MAX} characters",
            },
            "anonymous": {
                "type": "boolean",
                "default": False,
                "description": "Show \"anonymous\" instead of your name on the leaderboard and the model's page.",
                "fix": "use true or false",
            },
        },
    },
    "api_url": {
        "type": "string",
        "nullable": True,
        "default": None,
        "description": "Evaluation server for this model (env DYNALAB_API_URL overrides).",
        "fix": "use a URL such as https://leaderboard.example.org/api",
    },
}

OUR_RULES = ("description", "fix", "deprecated")  # "deprecated": the task limit that replaced the field


def cerberus_schema(fields=FIELDS):
    """The schema without our documentation rules, as cerberus expects it."""
    schema = {}
    for name, rules in fields.items():
        rules = {k: copy.deepcopy(v) for k, v in rules.items() if k not in OUR_RULES}
        if rules.get("type") == "dict" and "schema" in rules:
            rules["schema"] = cerberus_schema(rules["schema"])
        schema[name] = rules
    return schema


def field_rules(path, fields=FIELDS):
    """The rules of the field at ``path`` (a tuple of names) in ``fields``, or None."""
    rules = None
    for part in path:
        if not isinstance(fields, dict) or part not in fields:
            return None
        rules = fields[part]
        fields = rules.get("schema", {}) if rules.get("type") == "dict" else {}
    return rules


def describe(fields=FIELDS, prefix=""):
    """(dotted name, type, default, description) for every field, in order."""
    rows = []
    for name, rules in fields.items():
        dotted = prefix + name
        if rules.get("type") == "dict":
            rows.extend(describe(rules["schema"], dotted + "."))
            continue
        default = "required" if rules.get("required") else repr(rules.get("default"))
        rows.append((dotted, rules["type"], default, rules["description"]))
    return rows


def describe_deprecated(fields=FIELDS, prefix=()):
    """[(path of a field no longer used, the task limit that decides instead)]."""
    found = []
    for name, rules in fields.items():
        if rules.get("type") == "dict":
            found.extend(describe_deprecated(rules.get("schema", {}), prefix + (name,)))
        elif rules.get("deprecated"):
            found.append((prefix + (name,), rules["deprecated"]))
    return found


def validate_document(raw, fields, source):
    """``raw`` normalised against ``fields`` (in the format of ``config_schema.FIELDS``);
    a ConfigError naming ``source``, the first bad field, its value and the fix otherwise."""
    import cerberus  # imported when a document is validated, not by every reader of the schema

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
