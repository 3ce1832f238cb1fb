"""Sizes as people write them and as Dynalab prints them: one notation, both ways."""

import pytest

from dynalab.project.schema import FIELDS, validate_document
from dynalab.sizes import human_size, parse_size


@pytest.mark.parametrize("text, size", [("16g", 16 * 1024**3), ("512m", 512 * 1024**2), ("1.5k", 1536), ("100b", 100),
                                        ("100B", 100), ("2048", 2048), (" 4G ", 4 * 1024**3)])
def test_a_size_is_read_as_docker_reads_a_memory_limit(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["16gb", "lots", "", "-1m"])
def test_anything_else_is_not_a_size(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_printed_sizes_read_back_and_the_config_takes_what_the_parser_takes():
    assert [human_size(size) for size in (512, 1536, 20 * 1024**2, 3 * 1024**3)] == ["512 B", "1.5 KB", "20.0 MB", "3.0 GB"]
    config = {"task": "nli", "checkpoint": "m.pt", "handler": "h.py"}
    for memory in ("512m", "100b", "2g"):  # `b` was once read by the docker backend but refused by the config
        document = validate_document({**config, "integrated_test": {"docker": {"memory": memory}}}, FIELDS, "test")
        assert parse_size(document["integrated_test"]["docker"]["memory"]) > 0
