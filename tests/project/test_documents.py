"""YAML files edited in place: the fields changed, and every comment, order and other line kept."""

import os
import subprocess
import sys

import yaml

from dynalab.project.documents import update_fields

CONFIG = """\
# Dynalab config of model 'm'.

# Code of the task.
task: nli

# Extra files placed next to the handler.
model_files:
- labels.json
- rules.py

# team note: keep the data out
# Files and folders left out of the package.
exclude: []

# Settings of the integrated test.
integrated_test:
  backend: sandbox   # our CI has no Docker
  docker:
    base_image: null
    memory: 16g
"""


def test_changing_a_list_keeps_the_comments_above_the_next_field_and_the_order(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    update_fields(path, {"model_files": ["vocab.json"], "exclude": ["data", "old"]})
    text = path.read_text()
    for line in ("# team note: keep the data out", "# Files and folders left out of the package.",
                 "# Settings of the integrated test.", "backend: sandbox   # our CI has no Docker",
                 "base_image: null"):
        assert line in text, line
    order = [line.split(":")[0] for line in text.splitlines() if line and not line[0] in "# -"]
    assert order == ["task", "model_files", "exclude", "integrated_test"]
    assert yaml.safe_load(text)["model_files"] == ["vocab.json"]
    assert yaml.safe_load(text)["exclude"] == ["data", "old"]
    update_fields(path, {"model_files": []})
    assert "# team note: keep the data out" in path.read_text()


def test_a_nested_setting_is_set_in_place(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG)
    update_fields(path, {("integrated_test", "docker", "base_image"): "local/debian-py:bookworm"})
    text = path.read_text()
    assert "base_image: local/debian-py:bookworm" in text and "# our CI has no Docker" in text
    assert yaml.safe_load(text)["integrated_test"]["docker"]["memory"] == "16g"


def test_the_settings_command_keeps_the_files_comments(tmp_path):
    settings = tmp_path / ".dynalab" / "settings.yaml"
    settings.parent.mkdir()
    settings.write_text("# mine: the lab's server\napi_url: https://lab.example/api\n")
    command = [sys.executable, "-m", "dynalab.settings", "set", "integrated_test.docker.base_image", "local/x"]
    env = {**os.environ, "DYNALAB_HOME": str(tmp_path)}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    text = settings.read_text()
    assert text.startswith("# mine: the lab's server\napi_url: https://lab.example/api\n")
    assert yaml.safe_load(text) == {"api_url": "https://lab.example/api",
                                    "integrated_test": {"docker": {"base_image": "local/x"}}}
    bad = subprocess.run(command[:-2] + ["base_image", "x"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2 and bad.stderr.startswith("error: no setting `base_image`")
