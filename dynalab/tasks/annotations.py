"""Annotation types: what each kind of task field holds, how to check a value, mock values.

A task definition describes its fields as annotation objects ``{name, type, ...}``.
Each type below owns, in one place, its description (for messages and docs), its
check of a value found in a model response, and the mock values used to test a
handler (a field's own ``mock_values`` in the definition take their place). ``by_name`` maps the names of the task's context and input objects to
those objects, so that ``reference_name`` can be followed.
"""

import base64
import math
import struct
import zlib
from collections import namedtuple

# Probabilities may be off by this much (float rounding in softmax and the like).
TOLERANCE = 1e-4

MISSING = "(missing)"


class Problem(namedtuple("Problem", "field expected got hint")):
    """One way a response breaks the task's contract: which field, what was
    expected, what came instead (a short text), and what to do about it."""

    __slots__ = ()

    def __str__(self):
        return f"{self.field}: expected {self.expected}, got {self.got} -> {self.hint}"


def show(value, limit=80):
    """A short printable form of ``value`` for messages (long values are cut)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...'"


def is_number(value):
    """True for ints and floats; booleans are not numbers here, even though Python says so."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _labels_text(labels):
    return ", ".join(labels)


class AnnotationType:
    """Base class: one annotation type. Subclasses override what differs."""

    name = ""

    def describe(self, annotation, by_name):
        """What a value of this type looks like, in a few words."""
        raise NotImplementedError

    def check(self, value, annotation, by_name, example, normalised=True):
        """Problems with ``value`` as the response field ``annotation["name"]`` (empty: fine).

        ``normalised=False`` accepts probabilities that do not sum to 1: the
        original Dynalab's first API normalised them on the server's side.
        """
        raise NotImplementedError

    def mocks(self, annotation, by_name, example=None):
        """A few valid values; for ``example`` if the type depends on the example's fields."""
        raise NotImplementedError

    def _problem(self, value, annotation, by_name, hint):
        return Problem(annotation["name"], self.describe(annotation, by_name), show(value), hint)


class StringType(AnnotationType):
    name = "string"

    def describe(self, annotation, by_name):
        return "a string"

    def check(self, value, annotation, by_name, example, normalised=True):
        if isinstance(value, str):
            return []
        return [self._problem(value, annotation, by_name, self.hint(annotation))]

    def hint(self, annotation):
        return f"return {annotation['name']} as a str"

    def mocks(self, annotation, by_name, example=None):
        return list(MOCK_STRINGS)


class ImageType(StringType):
    """A string too: the image, base64-encoded."""

    name = "image"

    def describe(self, annotation, by_name):
        return "a base64-encoded image (a string)"

    def hint(self, annotation):
        return "return the image encoded with base64, as a str"

    def mocks(self, annotation, by_name, example=None):
        return [MOCK_IMAGE]


class ContextStringSelectionType(AnnotationType):
    name = "context_string_selection"

    def describe(self, annotation, by_name):
        return f"a substring of {annotation['reference_name']}"

    def check(self, value, annotation, by_name, example, normalised=True):
        reference = annotation["reference_name"]
        hint = f"return a piece of text copied exactly from the example's {reference!r} field"
        if not isinstance(value, str):
            return [self._problem(value, annotation, by_name, hint)]
        source = example.get(reference)
        if isinstance(source, str) and value not in source:
            return [self._problem(value, annotation, by_name, hint + " (mind whitespace and detokenisation)")]
        return []

    def mocks(self, annotation, by_name, example=None):
        reference = annotation["reference_name"]
        if example is not None and reference in example:
            sources = [example[reference]]
        else:
            sources = mock_values(by_name[reference], by_name)
        # The original tool took the first ten characters: short, and always a substring.
        return [source[:10] for source in sources]


class ProbType(AnnotationType):
    """Either one probability (``single_prob: true``) or one per label of ``reference_name``."""

    name = "prob"

    def describe(self, annotation, by_name):
        if annotation.get("single_prob"):
            return "a number between 0 and 1"
        labels = _labels_text(self._labels(annotation, by_name))
        return f"a dict of probabilities summing to 1 over the labels {labels}"

    def check(self, value, annotation, by_name, example, normalised=True):
        if annotation.get("single_prob"):
            if is_number(value) and -TOLERANCE <= value <= 1 + TOLERANCE:
                return []
            return [self._problem(value, annotation, by_name, "return a float between 0 and 1, e.g. float(score)")]
        return self._check_dict(value, annotation, by_name, normalised)

    def _check_dict(self, value, annotation, by_name, normalised):
        labels = self._labels(annotation, by_name)
        shape_hint = "return a dict {label: probability} with one entry per label: " + _labels_text(labels)
        if not isinstance(value, dict):
            return [self._problem(value, annotation, by_name, shape_hint)]
        missing = [label for label in labels if label not in value]
        unknown = [key for key in value if key not in labels]
        if missing or unknown:
            details = [f"missing {_labels_text(missing)}"] if missing else []
            if unknown:
                details.append(f"unknown {', '.join(map(str, unknown))}")
            return [self._problem(value, annotation, by_name, f"{shape_hint} ({'; '.join(details)})")]
        if not all(is_number(p) and -TOLERANCE <= p <= 1 + TOLERANCE for p in value.values()):
            return [self._problem(value, annotation, by_name, "make every probability a float between 0 and 1")]
        total = sum(value.values())
        if normalised and not math.isclose(total, 1.0, rel_tol=0.0, abs_tol=TOLERANCE):
            return [
                self._problem(
                    value, annotation, by_name, f"the probabilities sum to {total:g}: normalise them (e.g. softmax)"
                )
            ]
        return []

    def mocks(self, annotation, by_name, example=None):
        if annotation.get("single_prob"):
            return [0.25, 0.0, 1.0]
        labels = self._labels(annotation, by_name)
        # Uniform, then leaning to the first label, then to the last one.
        weight_sets = [[1] * len(labels), list(range(len(labels), 0, -1)), list(range(1, len(labels) + 1))]
        return [{label: w / sum(weights) for label, w in zip(labels, weights)} for weights in weight_sets]

    @staticmethod
    def _labels(annotation, by_name):
        return by_name[annotation["reference_name"]]["labels"]


class MulticlassType(AnnotationType):
    name = "multiclass"

    def describe(self, annotation, by_name):
        return f"one of {_labels_text(annotation['labels'])}"

    def check(self, value, annotation, by_name, example, normalised=True):
        if isinstance(value, str) and value in annotation["labels"]:
            return []
        return [self._problem(value, annotation, by_name, f"return one of: {_labels_text(annotation['labels'])}")]

    def mocks(self, annotation, by_name, example=None):
        return list(annotation["labels"])


class MultilabelType(AnnotationType):
    name = "multilabel"

    def describe(self, annotation, by_name):
        return f"a list of labels from {_labels_text(annotation['labels'])}"

    def check(self, value, annotation, by_name, example, normalised=True):
        labels = annotation["labels"]
        if (
            isinstance(value, list)
            and all(isinstance(item, str) and item in labels for item in value)
            and len(set(value)) == len(value)
        ):
            return []
        hint = f"return a list of distinct labels (possibly empty) taken from: {_labels_text(labels)}"
        return [self._problem(value, annotation, by_name, hint)]

    def mocks(self, annotation, by_name, example=None):
        labels = list(annotation["labels"])
        return [[], labels[:1], labels]


TYPES = {
    kind.name: kind()
    for kind in (StringType, ImageType, ContextStringSelectionType, ProbType, MulticlassType, MultilabelType)
}


def describe(annotation, by_name):
    """What a value of ``annotation`` looks like, e.g. "one of entailed, neutral, contradictory"."""
    return TYPES[annotation["type"]].describe(annotation, by_name)


def check_value(value, annotation, by_name, example, normalised=True):
    """Problems with ``value`` as the response field described by ``annotation`` ([] if fine);
    ``normalised=False`` lets a dict of probabilities sum to something else than 1."""
    return TYPES[annotation["type"]].check(value, annotation, by_name, example, normalised)


def mock_values(annotation, by_name, example=None):
    """Valid values for ``annotation`` (for ``example``, where values depend on its fields):
    the field's own ``mock_values`` if the definition gives them, else its type's."""
    if "mock_values" in annotation:
        return list(annotation["mock_values"])
    return TYPES[annotation["type"]].mocks(annotation, by_name, example)


def png_bytes(width, height, pixel):
    """A truecolour PNG whose pixel (x, y) has colour ``pixel(x, y)`` -> (r, g, b)."""

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    # Each scanline starts with filter type 0 (none).
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


MOCK_STRINGS = (
    "It is a good day",
    "Let's try a utf-8 string: jáquima, naïve café, 日本語, emoji 🙂",
    # Longer than the 512 tokens most transformer models accept: handlers must truncate.
    " ".join(f"{i}_" for i in range(513)),
)

# Dynabench sends images the way ``base64.encodebytes`` writes them: lines of 76
# characters, each ending with a newline. The mock does the same.
MOCK_IMAGE = base64.encodebytes(png_bytes(8, 8, lambda x, y: (32 * x, 32 * y, 128))).decode("ascii")
