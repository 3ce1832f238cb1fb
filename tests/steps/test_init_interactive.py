"""Interactive `init` on a real pseudo-terminal walks through the original's prompts."""

import os
import pty
import select
import subprocess
import sys
import time

import yaml


class Terminal:
    """A process on a pseudo-terminal, driven like a person: wait for a prompt, type."""

    def __init__(self, args, cwd, env):
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(args, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        self.screen = ""

    def expect(self, text, timeout=30):
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"never saw {text!r}; screen:\n{self.screen}"
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    self.screen += os.read(self.master, 4096).decode(errors="replace")
                except OSError:  # the process closed the terminal
                    break
        assert text in self.screen, f"never saw {text!r}; screen:\n{self.screen}"

    def type(self, line):
        os.write(self.master, (line + "\n").encode())

    def converse(self, *exchanges):
        """Wait for each prompt and type its answer: ``(prompt, answer)``, or ``(text,)`` to wait only."""
        for prompt, *answer in exchanges:
            self.expect(prompt)
            if answer:
                self.type(answer[0])

    def wait(self):
        code = self.process.wait(timeout=60)
        os.close(self.master)
        return code


def test_interactive_init_prompts_like_the_original(make_project, tmp_path):
    project = make_project("example")
    (project / "handler.py").unlink()
    (project / "requirements.txt").write_text("numpy\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    term = Terminal([sys.executable, "-m", "dynalab.cli", "init", "-n", "m"], cwd=project, env=env)
    term.converse(
        ("Which task is the model for?",),
        ("Enter a number", "nli"),
        ("Path to the model checkpoint", "model.pt"),
        ("press enter to create a template handler", ""),
        ("requirements.txt found", "y"),
        ("Extra model files", "vocab.json, labels.py"),
        ("exclude", "train.py"),
        ("Initialised model 'm'",),
    )
    assert term.wait() == 0
    config = yaml.safe_load((project / ".dynalab" / "m" / "config.yaml").read_text())
    assert config["requirements"] is True
    assert config["model_files"] == ["vocab.json", "labels.py"]
    assert config["exclude"] == ["train.py"]
    assert (project / "handler.py").exists()


def test_interactive_reinit_asks_before_overwriting(make_project):
    project = make_project("example")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    args = [sys.executable, "-m", "dynalab.cli", "init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt"]
    assert subprocess.run(args, cwd=project, env={**env, "CI": "true"}, stdin=subprocess.DEVNULL).returncode == 0
    term = Terminal(args + ["--model-files", "vocab.json"], cwd=project, env=env)
    term.expect("already initialised. Overwrite")
    term.type("n")
    term.expect("init cancelled")
    assert term.wait() == 2


def test_amend_in_editor_never_keeps_an_invalid_edit(make_project, tmp_path):
    project = make_project("example")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    init = [sys.executable, "-m", "dynalab.cli", "init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt"]
    assert subprocess.run(init, cwd=project, env={**env, "CI": "true"}, stdin=subprocess.DEVNULL).returncode == 0
    config = project / ".dynalab" / "m" / "config.yaml"
    before = config.read_text()
    # An "editor" that makes the config invalid, as a slip of the keyboard would.
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\nopen(sys.argv[1], 'a').write('requirements: maybe\\n')\n")
    term = Terminal([sys.executable, "-m", "dynalab.cli", "init", "-n", "m", "--amend"], cwd=project,
                    env={**env, "EDITOR": f"{sys.executable} {editor}"})
    term.expect("`requirements`")
    term.expect("Edit again?")
    term.type("n")
    term.expect("keeps its previous, valid version")
    assert term.wait() == 2
    assert config.read_text() == before


def test_a_typo_in_an_interactive_answer_asks_that_question_again(make_project):
    project = make_project("example")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    term = Terminal([sys.executable, "-m", "dynalab.cli", "init", "-n", "m", "-t", "nli",
                     "--model-checkpoint", "model.pt", "--handler", "handler.py"], cwd=project, env=env)
    term.converse(
        ("Extra model files", "vocab.json, labls.py"),
        ("`model_files[1]` names 'labls.py', which does not exist",),
        ("Please answer again.", "vocab.json, labels.py"),
        ("exclude", "vocab.json"),
        ("`exclude[0]` = 'vocab.json' excludes 'vocab.json', which the model needs",),
        ("Please answer again.", "train.py"),
        ("Initialised model 'm'",),
    )
    assert term.wait() == 0
    config = yaml.safe_load((project / ".dynalab" / "m" / "config.yaml").read_text())
    assert config["model_files"] == ["vocab.json", "labels.py"]
    assert config["exclude"] == ["train.py"]
