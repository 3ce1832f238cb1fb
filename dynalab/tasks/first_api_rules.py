"""The rules of the original Dynalab's first task API: how its responses were signed and checked.

Only the first API writes ``signed`` (today's writes ``signature``), so a
response says itself which rules apply; ``dynalab.tasks.task_io`` checks it
with these, and ``dynalab.tasks.first_api`` builds that API's ``TaskIO``
classes on them. See ``dynalab.tasks.first_api`` for the API itself.
"""

from collections import namedtuple

from dynalab.tasks.annotations import Problem, show
from dynalab.tasks.signatures import Rules, signature_digest

SIGNED = "signed"


class Recipe(namedtuple("Recipe", "signed_as inputs outputs")):
    """How the first API signed a task's responses: the task code it signed
    under, the example's inputs and the response's outputs it signed."""

    __slots__ = ()


_TRANSLATION = Recipe("flores", ("sourceLanguage", "targetLanguage", "sourceText"), ("translatedText",))

RECIPES = {
    "nli": Recipe("nli", ("context", "hypothesis"), ("label",)),
    "qa": Recipe("qa", ("context", "question"), ("answer",)),
    "sentiment": Recipe("sentiment", ("statement",), ("label",)),
    "hs": Recipe("hs", ("statement",), ("label",)),
    "flores_small1": _TRANSLATION,
    "flores_small2": _TRANSLATION,
    "flores_full": _TRANSLATION,
}


def is_first_api_response(response):
    """True if the response dict was signed the first API's way (``signed``, no ``signature``)."""
    return SIGNED in response and "signature" not in response


def signature(task_code, response, example, secret=""):
    """The first API's signature of ``response`` to ``example`` for task ``task_code``."""
    recipe = RECIPES[task_code]
    inputs = {name: example[name] for name in recipe.inputs if name in example}
    outputs = {name: response[name] for name in recipe.outputs if name in response}
    return signature_digest(recipe.signed_as, inputs, outputs, secret)


def _sign(task_io, response, example):
    return signature(task_io.task_code, response, example)


FIRST_API_RULES = Rules(SIGNED, _sign, False)


def rules(task_code):
    """The Rules a first-API response of ``task_code`` is checked with; None if that API had no such task."""
    return FIRST_API_RULES if task_code in RECIPES else None


def not_a_first_api_task(task_code, response):
    """The Problem of a response signed in ``signed`` for a task the first API never had."""
    hint = (
        f"the original Dynalab's first API (which set `signed`) had no task {task_code!r}: use "
        f"`from dynalab.tasks.task_io import TaskIO` and TaskIO({task_code!r}).sign_response(response, example), "
        "which sets `signature`"
    )
    return Problem(SIGNED, "a `signature` field", show(response[SIGNED]), hint)
