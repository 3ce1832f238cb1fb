"""The original Dynalab's first task API, for handlers written for it.

Handlers of that API import their task's own module and build its TaskIO
without a task code::

    from dynalab.tasks.qa import TaskIO
    self.taskIO = TaskIO()
    ...
    response = self.taskIO.sign_response(response, example)  # sets response["signed"]

Its rules differ from today's in three ways. The signature goes in ``signed``,
not ``signature``. It covers a fixed list of inputs and the required outputs
only (never ``prob`` or ``conf``), under the task's signing code, which is
``flores`` for all three translation tracks. Probabilities need not sum to 1
(the server normalised them). ``RECIPES`` (in ``first_api_rules``, with the
rest of those rules) holds each task's signing rule; the
per-task modules (``dynalab.tasks.nli``, ``qa``, ``sentiment``, ``hs``,
``flores_small1``, ``flores_small2``, ``flores_full``) expose a ``TaskIO``
class made by ``task_io_class``, and ``dynalab.tasks.common`` the base class.

Which rules a check applies is read from the response itself: only the first
API writes ``signed``, and today's writes ``signature``. A response is all
that the HTTP probe (a process apart from the handler's) or an evaluation
server ever sees of a handler, so this needs no side channel that could
disagree with what the handler did, such as a flag in the run spec or a scan
of the handler's imports that misses one made by a model file.
"""

import functools

from dynalab.tasks.first_api_rules import RECIPES, SIGNED
from dynalab.tasks.signatures import Rules, signature_digest
from dynalab.tasks.task_io import ResponseInvalid, TaskIO, parse_response

__all__ = ["RECIPES", "SIGNED", "BaseTaskIO", "data_attribute", "mock_data", "task_io_class"]


class BaseTaskIO:
    """A task's TaskIO in the first API: ``TaskIO()`` takes no task code, ``sign_response`` sets ``signed``.

    Subclasses set ``task_code``. As in that API, a subclass may override
    ``parse_signature_input`` (what is signed) for a task of its own.
    """

    task_code = None

    def __init__(self):
        # The rules are known by task code; the task's definition is read only
        # if a check needs it, so building a TaskIO never fails.
        self._definition_io = None

    def __repr__(self):
        return f"<first-API TaskIO of task {self.task_code!r}>"

    def parse_signature_input(self, response, data):
        """``(signing task code, inputs, outputs)``: what the signature of ``response`` to ``data`` covers."""
        recipe = RECIPES[self.task_code]
        inputs = {name: data[name] for name in recipe.inputs if name in data}
        outputs = {name: response[name] for name in recipe.outputs if name in response}
        return recipe.signed_as, inputs, outputs

    def generate_response_signature(self, response, data, secret=""):
        """The signature of ``response`` to ``data``: see ``dynalab.tasks.task_io.signature_digest``."""
        return signature_digest(*self.parse_signature_input(response, data), secret)

    def sign_response(self, response, data):
        """Set ``response["signed"]`` and return ``response``; call it after setting every output."""
        response[SIGNED] = self.generate_response_signature(response, data)
        return response

    def verify_response(self, response, data):
        """Return the response as a dict if the first API's rules accept it; else raise
        ResponseInvalid (an AssertionError, as that API's own checks raised)."""
        parsed, problem = parse_response(response)
        if problem:
            raise ResponseInvalid([problem], data.get("uid"))
        # Signed as this object signs, so a subclass's own parse_signature_input counts.
        own_rules = Rules(SIGNED, lambda _, response, example: self.generate_response_signature(response, example), False)
        problems = self._task_io().check_with_rules(parsed, data, own_rules)
        if problems:
            raise ResponseInvalid(problems, data.get("uid"))
        return parsed

    @property
    def data(self):
        """The task's mock examples (as the module's ``data``)."""
        return mock_data(self.task_code)

    def _task_io(self):
        if self._definition_io is None:
            self._definition_io = TaskIO(self.task_code)
        return self._definition_io


def task_io_class(task_code):
    """The ``TaskIO`` class of module ``dynalab.tasks.<task_code>``."""
    return type("TaskIO", (BaseTaskIO,), {
        "task_code": task_code,
        "__module__": f"dynalab.tasks.{task_code}",
        "__doc__": f"TaskIO() of task {task_code!r} in the original Dynalab's first API (see BaseTaskIO).",
    })


@functools.lru_cache(maxsize=None)
def mock_data(task_code):
    """The mock examples of ``task_code``, made once (a module's ``data`` was made at import)."""
    return TaskIO(task_code).get_mock_data()


def data_attribute(task_code):
    """A module ``__getattr__`` that gives the module a ``data`` attribute: the task's mock examples.

    They are made on first use, because they come from the task's definition,
    which importing the module must not need.
    """

    def __getattr__(name):
        if name == "data":
            return mock_data(task_code)
        raise AttributeError(f"module 'dynalab.tasks.{task_code}' has no attribute {name!r}")

    return __getattr__
