"""A task's limits: the defaults, what a definition may change, and one clear error for a bad value."""

import pytest

from dynalab.tasks.limits import DEFAULT_LIMITS, LimitsError, limits_of, memory_bytes
from dynalab.tasks.registry import TaskDefinitionError, load_builtin, validate_definition


def test_a_definition_without_limits_gets_the_defaults():
    assert limits_of(load_builtin("nli")) == DEFAULT_LIMITS == {
        "memory": "16g", "cpus": 4, "load_timeout": 300, "request_timeout": 60, "batch_size": 8, "gpu": False}


def test_the_limits_a_definition_gives_replace_the_defaults_one_by_one():
    limits = limits_of({"limits": {"memory": "300M", "request_timeout": 2.5, "batch_size": 32.0}})
    assert limits == {**DEFAULT_LIMITS, "memory": "300m", "request_timeout": 2.5, "batch_size": 32}
    assert memory_bytes(limits) == 300 * 1024**2


@pytest.mark.parametrize("limits, field, value", [
    ({"memory": "lots"}, "memory", "lots"),
    ({"memory": "1m"}, "memory", "1m"),
    ({"cpus": 0}, "cpus", 0),
    ({"load_timeout": "300"}, "load_timeout", "300"),
    ({"request_timeout": True}, "request_timeout", True),
    ({"batch_size": 2.5}, "batch_size", 2.5),
    ({"batch_size": 0}, "batch_size", 0),
    ({"gpu": "yes"}, "gpu", "yes"),
    ({"memroy": "1g"}, "memroy", "1g"),
])
def test_a_bad_limit_is_named_with_its_value_and_what_to_use(limits, field, value):
    with pytest.raises(LimitsError) as caught:
        limits_of({"limits": limits})
    assert (caught.value.field, caught.value.value) == (field, value)
    assert f"limits.{field} = {value!r} is not valid: use " in str(caught.value)


def test_limits_that_are_not_a_mapping_are_refused():
    with pytest.raises(LimitsError, match="limits = 16 is not valid"):
        limits_of({"limits": 16})


def test_a_task_file_with_a_bad_limit_is_refused_naming_the_field():
    definition = {**load_builtin("nli"), "limits": {"memory": "16 gigs"}}
    with pytest.raises(TaskDefinitionError) as caught:
        validate_definition(definition, "tasks/nli.yaml")
    assert "limits.memory" in str(caught.value) and "16 gigs" in str(caught.value)
