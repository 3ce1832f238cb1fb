"""Publishing a model on its task's leaderboard, and its card.

A model can be published once it is ``evaluated`` (every dataset of its
task done): a model still being evaluated, or failed, is refused with the
reason. Unpublishing is always allowed. A published model stays published
when a new dataset sends it back to ``evaluating`` (the board shows that
dataset as pending) and when its card is edited: only its owner's
unpublish takes it off.

The card is validated with the config's schema (``card`` in
``dynalab.project.schema``), whether it comes with the upload or from the
model's page.
"""

import json

from dynalab.errors import ConfigError
from dynalab.project.schema import FIELDS, validate_document
from dynalab.server.db.models import utcnow

CARD_FIELDS = FIELDS["card"]["schema"]
MAX_CARD_BYTES = 16 * 1024


class Refused(ValueError):
    """Raised when a model cannot be published, or a card is invalid; the message says why."""


def publish(model):
    """Put ``model`` on its leaderboard (the caller commits); True if it was not there yet."""
    if model.status != "evaluated":
        raise Refused(_not_evaluated(model))
    if model.published:
        return False
    model.published, model.published_at = True, utcnow()
    model.updated_at = model.published_at  # the leaderboard's cache sees the change
    return True


def unpublish(model):
    """Take ``model`` off its leaderboard; True if it was on it."""
    if not model.published:
        return False
    model.published, model.updated_at = False, utcnow()
    return True


def set_card(model, card, source="card"):
    """Replace the card of ``model`` with ``card`` (a dict, validated); publication unchanged."""
    model.card = checked_card(card, source)
    model.updated_at = utcnow()


def checked_card(card, source="card"):
    """``card`` normalised (missing fields empty), or ``Refused`` naming the bad field."""
    if not isinstance(card, dict):
        raise Refused(f"{source}: must be a mapping of {', '.join(CARD_FIELDS)}")
    try:
        return validate_document(card, CARD_FIELDS, source)
    except ConfigError as error:
        # cerberus says "value does not match regex '...'": the hint says it for people.
        message = str(error).split(": value does not match regex")[0]
        raise Refused(f"{message}: {error.hint}" if error.hint else message) from None


def card_from_form_field(text):
    """The upload form's ``card`` field (JSON text) as a checked card; an empty field is no card."""
    if not text.strip():
        return {}
    try:
        card = json.loads(text)
    except ValueError as error:
        raise Refused(f"form field `card` is not JSON ({error})") from None
    return checked_card(card, "form field `card`")


def _not_evaluated(model):
    if model.status == "failed":
        return (f"model {model.id} failed ({model.failure_class}: {model.failure_reason}): "
                "only an evaluated model can be published; fix it and upload it again")
    return (f"model {model.id} is {model.status}, not evaluated yet: it can be published once every "
            "dataset of its task is done (see its status page)")
