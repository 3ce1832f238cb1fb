"""How a response is signed: the digest every generation of Dynalab's API computes, and the rules
that say which field holds it. Standard library only (it runs next to the model).
"""

import hashlib
import os
from collections import namedtuple

SECRET_ENV = "MY_SECRET"


class Rules(namedtuple("Rules", "signature_field sign normalised")):
    """What a valid response looks like beyond its fields' types: the field holding
    its signature, ``sign(task_io, response, example)`` computing the expected one,
    and whether a dict of probabilities must sum to 1."""

    __slots__ = ()


def signature_digest(task_code, inputs, outputs, secret=""):
    """SHA-1 over the secret (env MY_SECRET, else ``secret``), the task code, then
    ``str(value)`` of each input, then of each output, both in sorted name order;
    UTF-8; hex digest. Every generation of Dynalab's API signs this way."""
    digest = hashlib.sha1()
    digest.update(os.environ.get(SECRET_ENV, secret).encode("utf-8"))
    digest.update(task_code.encode("utf-8"))
    for key in sorted(inputs):
        digest.update(str(inputs[key]).encode("utf-8"))
    for key in sorted(outputs):
        digest.update(str(outputs[key]).encode("utf-8"))
    return digest.hexdigest()
