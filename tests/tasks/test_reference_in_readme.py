import subprocess
import sys
from pathlib import Path

from dynalab.tasks import reference

REPO = Path(__file__).resolve().parents[2]
UPDATE = "run `python -m dynalab.tasks.reference --write README.md`"


def test_readme_holds_the_current_task_io_reference():
    readme = REPO / "README.md"
    assert readme.exists(), f"README.md is missing; {UPDATE}"
    block = reference.current_block(readme.read_text(encoding="utf-8"))
    assert block is not None, f"README.md lacks the task I/O markers; {UPDATE}"
    assert block == reference.render_markdown(), f"the task I/O reference in README.md is out of date; {UPDATE}"


def test_the_reference_covers_every_builtin_task():
    text = reference.render_markdown()
    for code in ("flores_full", "flores_small1", "flores_small2", "hs", "nli", "qa", "sentiment", "vqa"):
        assert f"### `{code}`" in text
    assert "| `label` | yes | multiclass | one of entailed, neutral, contradictory |" in text
    assert "| `conf` | no | prob | a number between 0 and 1 |" in text
    assert "| `sourceLanguage` | string | a string; the tests send `eng`, `hrv`, `est` |" in text


def test_the_reference_says_how_each_task_is_scored():
    text = reference.render_markdown()
    assert "`metrics: {main: <name>, others: [<name>, ...]}`" in text
    qa = text[text.index("### `qa`"):text.index("### `sentiment`")]
    assert "Scored by `squad_f1` (also reported: `exact_match`)." in qa
    assert text.count("Scored by `bleu`.") == 3


def test_the_reference_names_the_first_api_and_its_tasks():
    text = reference.render_markdown()
    assert "`from dynalab.tasks.qa import TaskIO`" in text and "`sign_response` setting `signed`" in text
    assert "`nli`, `qa`, `sentiment`, `hs`, `flores_small1`, `flores_small2`, `flores_full`" in text


def test_write_replaces_only_the_text_between_the_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{reference.START_MARKER}\nold\n{reference.END_MARKER}\n\nAfter.\n")
    reference.write(readme)
    text = readme.read_text()
    assert text.startswith(f"# Title\n\n{reference.START_MARKER}\n{reference.render_markdown()}{reference.END_MARKER}")
    assert text.endswith(f"{reference.END_MARKER}\n\nAfter.\n")
    reference.write(readme)
    assert readme.read_text() == text


def test_write_appends_a_section_when_the_markers_are_missing(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n")
    subprocess.run(
        [sys.executable, "-m", "dynalab.tasks.reference", "--write", str(readme)], cwd=REPO, check=True
    )
    text = readme.read_text()
    assert text.startswith("# Title\n\n## Task I/O reference\n\n")
    assert reference.current_block(text) == reference.render_markdown()
