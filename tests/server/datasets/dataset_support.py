"""Dataset lines for the tests: one valid example per built-in task, and JSON-lines files."""

import json

from dynalab.tasks.annotations import MOCK_IMAGE

EXAMPLES = {
    "nli": {"uid": "nli-1", "context": "A man is playing guitar.", "hypothesis": "A man makes music.",
            "label": "entailed"},
    "sentiment": {"uid": "s-1", "statement": "What a lovely day.", "label": "positive"},
    "hs": {"uid": "hs-1", "statement": "I like my neighbours.", "label": "not-hateful"},
    "qa": {"uid": "qa-1", "context": "Super Bowl 50 was played at Levi's Stadium in Santa Clara.",
           "question": "Where was Super Bowl 50 played?", "answer": ["Levi's Stadium", "Santa Clara"]},
    "vqa": {"uid": "vqa-1", "image": MOCK_IMAGE, "question": "How many dogs are there?",
            "answer": ["2", "2", "two", "2", "2", "3", "2", "2", "2", "2"]},
    **{code: {"uid": "mt-1", "sourceLanguage": "eng", "targetLanguage": "hrv", "sourceText": "Good morning.",
              "translatedText": "Dobro jutro."} for code in ("flores_small1", "flores_small2", "flores_full")},
}


def nli_lines(count, start=0):
    """``count`` valid nli examples, uids ``ex-<start>``..."""
    labels = ("entailed", "neutral", "contradictory")
    return [{"uid": f"ex-{i}", "context": f"Person {i} is reading a book.", "hypothesis": f"Person {i} reads.",
             "label": labels[i % 3]} for i in range(start, start + count)]


def write_jsonl(path, lines):
    """Write ``lines`` (dicts, or raw text for a line that is not JSON) one a line; returns ``path``."""
    with open(path, "w", encoding="utf-8") as file:
        for line in lines:
            file.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path
