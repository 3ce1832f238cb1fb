"""The note said when a model config still holds a setting that the task's limits replaced (0.2.0 configs do)."""

_said = set()  # (model, note): said once per command, though both tests read the config


def say_limit_notes(model, out):
    """Say, once per command, each setting of ``model``'s config that differs from the task's limit."""
    from dynalab.project.config import deprecated_limit_notes
    from dynalab.tasks.limits import LimitsError, limits_of

    try:
        limits = limits_of(model.definition)
    except LimitsError:
        return  # the test itself fails on it, naming the field
    for note in deprecated_limit_notes(model.config, limits):
        if (model.name, note) not in _said:
            _said.add((model.name, note))
            out(note)
