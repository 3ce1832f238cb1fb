import base64
import struct
import zlib

import pytest

from dynalab.tasks import annotations
from dynalab.tasks.annotations import TOLERANCE, check_value, mock_values

LABEL = {"name": "label", "type": "multiclass", "labels": ["a", "b", "c"]}
TAGS = {"name": "tags", "type": "multilabel", "labels": ["x", "y"]}
TEXT = {"name": "text", "type": "string"}
PICTURE = {"name": "picture", "type": "image"}
SPAN = {"name": "span", "type": "context_string_selection", "reference_name": "text"}
PROBS = {"name": "probs", "type": "prob", "reference_name": "label"}
CONF = {"name": "conf", "type": "prob", "single_prob": True}
BY_NAME = {field["name"]: field for field in (LABEL, TAGS, TEXT, PICTURE)}
EXAMPLE = {"uid": "1", "text": "It is a good day"}
ALL = [LABEL, TAGS, TEXT, PICTURE, SPAN, PROBS, CONF]


def problems(value, annotation, example=EXAMPLE):
    return check_value(value, annotation, BY_NAME, example)


def test_string_mocks_include_plain_utf8_and_a_513_token_text():
    strings = mock_values(TEXT, BY_NAME)
    assert "It is a good day" in strings
    assert any(not text.isascii() for text in strings)
    long_text = " ".join(f"{i}_" for i in range(513))
    assert long_text in strings and len(long_text.split()) == 513


def test_image_mock_is_a_valid_base64_png():
    (encoded,) = mock_values(PICTURE, BY_NAME)
    data = base64.b64decode(encoded)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, offset = {}, 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        tag, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(tag + body)
        chunks[tag] = body
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 2)
    assert len(zlib.decompress(chunks[b"IDAT"])) == height * (1 + 3 * width)
    assert list(chunks)[-1] == b"IEND"


def test_prob_mocks_are_distributions_over_the_referenced_labels():
    for distribution in mock_values(PROBS, BY_NAME):
        assert list(distribution) == LABEL["labels"]
        assert abs(sum(distribution.values()) - 1) < TOLERANCE
    assert all(isinstance(p, float) and 0 <= p <= 1 for p in mock_values(CONF, BY_NAME))


def test_label_mocks_come_from_the_labels():
    assert sorted(mock_values(LABEL, BY_NAME)) == ["a", "b", "c"]
    assert all(set(tags) <= {"x", "y"} for tags in mock_values(TAGS, BY_NAME))


def test_selection_mocks_are_substrings_of_the_referenced_field():
    assert all(span in EXAMPLE["text"] for span in mock_values(SPAN, BY_NAME, EXAMPLE))
    sources = mock_values(TEXT, BY_NAME)
    assert all(any(span in source for source in sources) for span in mock_values(SPAN, BY_NAME))


@pytest.mark.parametrize("annotation", ALL, ids=lambda a: a["name"])
def test_every_mock_value_passes_its_own_check(annotation):
    for value in mock_values(annotation, BY_NAME, EXAMPLE):
        assert problems(value, annotation) == []


@pytest.mark.parametrize(
    "annotation, value",
    [
        (TEXT, 3),
        (TEXT, None),
        (PICTURE, b"bytes"),
        (LABEL, "d"),
        (LABEL, ["a"]),
        (TAGS, ["x", "x"]),
        (TAGS, ["z"]),
        (TAGS, "x"),
        (SPAN, "a bad day"),
        (SPAN, 3),
        (CONF, True),
        (CONF, 1.5),
        (CONF, float("nan")),
        (CONF, "0.5"),
        (PROBS, {"a": 0.5, "b": 0.5}),
        (PROBS, {"a": 0.5, "b": 0.25, "c": 0.25, "d": 0.0}),
        (PROBS, {"a": 0.5, "b": 0.5, "c": 0.5}),
        (PROBS, {"a": True, "b": False, "c": False}),
        (PROBS, {"a": 1.5, "b": -0.5, "c": 0.0}),
        (PROBS, [0.2, 0.3, 0.5]),
    ],
)
def test_bad_values_are_reported_on_their_field(annotation, value):
    (problem,) = problems(value, annotation)
    assert problem.field == annotation["name"]
    assert problem.hint


def test_prob_sums_are_checked_within_the_tolerance():
    assert problems({"a": 0.5, "b": 0.25, "c": 0.25 + TOLERANCE / 2}, PROBS) == []
    assert problems({"a": 0.5, "b": 0.25, "c": 0.25 + TOLERANCE * 2}, PROBS) != []


def test_whole_numbers_are_probabilities_but_booleans_are_not():
    assert problems(1, CONF) == [] and problems(0, CONF) == []
    assert problems(False, CONF) != []


def test_hints_say_what_to_return():
    (problem,) = problems("maybe", LABEL)
    assert problem.expected == "one of a, b, c"
    assert problem.got == "'maybe'"
    assert "return one of: a, b, c" in problem.hint
    assert str(problem) == "label: expected one of a, b, c, got 'maybe' -> return one of: a, b, c"


def test_long_values_are_shortened_in_messages():
    (problem,) = problems(" ".join(f"{i}_" for i in range(513)), LABEL)
    assert len(problem.got) <= 80


def test_selections_of_a_field_missing_from_the_example_are_not_guessed():
    assert problems("anything", SPAN, example={"uid": "1"}) == []


def test_every_type_has_one_entry():
    assert set(annotations.TYPES) == {
        "string",
        "image",
        "context_string_selection",
        "prob",
        "multiclass",
        "multilabel",
    }
