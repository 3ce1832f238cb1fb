"""The project on disk and its configuration.

- ``layout``: where things live in a project (``Project``), model names.
- ``schema``: the model config's fields, as data, and their validation.
- ``documents``: YAML files read with errors naming file and line, and edited in place.
- ``config``: a model's config: read, validated, path rules, migrated, written.
- ``settings``: this machine's settings, the defaults beneath every config.
- ``task_definitions``, ``server_tasks``: which task a model is tested against.
"""

from dynalab.project.layout import (CONFIG_FILE, DYNALAB_DIR, LEGACY_CONFIG_FILE, MODEL_NAME_PATTERN, STATE_FILE,
                                    SUBMISSIONS_DIR, Project, check_model_name)

__all__ = ["CONFIG_FILE", "DYNALAB_DIR", "LEGACY_CONFIG_FILE", "MODEL_NAME_PATTERN", "STATE_FILE", "SUBMISSIONS_DIR",
           "Project", "check_model_name"]
