"""A task's limits: what its models get and must stay within, wherever they run.

A task definition may hold ``limits`` (every field optional)::

    limits:
      memory: 16g          # the model's processes together (cgroup / container limit)
      cpus: 4
      load_timeout: 300    # seconds for handle(None, context)
      request_timeout: 60  # seconds for one request (one example, or one batch)
      batch_size: 8        # examples per batched request, or concurrent single requests
      gpu: false           # the task needs a GPU

``limits_of(definition)`` fills in ``DEFAULT_LIMITS`` and validates them;
``dynalab-cli test`` (local and integrated) and the evaluation server's jobs
both apply exactly what it returns. Standard library only: this module also
runs next to the model.
"""

from dynalab.sizes import parse_size

DEFAULT_LIMITS = {
    "memory": "16g",
    "cpus": 4,
    "load_timeout": 300,
    "request_timeout": 60,
    "batch_size": 8,
    "gpu": False,
}

MIN_MEMORY = 64 * 1024**2  # below this not even the interpreter starts
MAX_BATCH_SIZE = 1024
_NUMBERS = {  # field: (smallest allowed, whether it must be whole, what it is)
    "cpus": (0.1, False, "a number of CPUs such as 4 or 0.5"),
    "load_timeout": (1, False, "a number of seconds, at least 1"),
    "request_timeout": (1, False, "a number of seconds, at least 1"),
    "batch_size": (1, True, f"a whole number of examples from 1 to {MAX_BATCH_SIZE}"),
}


class LimitsError(ValueError):
    """A task definition's ``limits`` has a field that is unknown or holds a bad value."""

    def __init__(self, field, value, expected):
        self.field, self.value, self.expected = field, value, expected
        shown = f"limits.{field}" if field else "limits"
        super().__init__(f"the task definition's {shown} = {value!r} is not valid: use {expected}")


def limits_of(definition):
    """The limits of the task ``definition`` (a dict): its ``limits`` over ``DEFAULT_LIMITS``, validated.

    Raises LimitsError naming the field and its value when one is wrong.
    """
    given = (definition or {}).get("limits")
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise LimitsError(None, given, "a mapping of " + ", ".join(DEFAULT_LIMITS))
    unknown = sorted(set(given) - set(DEFAULT_LIMITS))
    if unknown:
        raise LimitsError(unknown[0], given[unknown[0]], "only the fields " + ", ".join(DEFAULT_LIMITS))
    limits = {**DEFAULT_LIMITS, **given}
    memory = limits["memory"]
    try:
        memory_bytes = parse_size(memory) if isinstance(memory, (str, int)) and not isinstance(memory, bool) else None
    except ValueError:
        memory_bytes = None
    if memory_bytes is None or memory_bytes < MIN_MEMORY:
        raise LimitsError("memory", memory, "a size of at least 64m, such as 16g or 512m")
    limits["memory"] = str(memory).strip().lower()
    for field, (smallest, whole, expected) in _NUMBERS.items():
        value = limits[field]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < smallest \
                or (whole and (value != int(value) or value > MAX_BATCH_SIZE)):
            raise LimitsError(field, value, expected)
        if whole:
            limits[field] = int(value)
    if not isinstance(limits["gpu"], bool):
        raise LimitsError("gpu", limits["gpu"], "true or false")
    return limits


def memory_bytes(limits):
    """The ``memory`` of validated ``limits`` in bytes."""
    return parse_size(limits["memory"])
