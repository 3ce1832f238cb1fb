"""The model dir: every file side by side under its bare name."""

import os

import pytest

from dynalab.runtime.model_dir import MARKER, ModelDirError, prepare_model_dir


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    for path, text in {
        "handler.py": "def handle(data, context): pass\n",
        "ckpt/model.pt": "weights",
        "configs/config.json": "{}",
        "src/config.json": "{}",
        "src/my_model.py": "X = 1\n",
        "tokenizer/vocab.txt": "a b c",
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def test_files_are_flattened_as_symlinks(tmp_path, root):
    model_dir = tmp_path / "md"
    placed = prepare_model_dir(str(model_dir), str(root), "handler.py", "ckpt/model.pt",
                               ["src/my_model.py", "configs/config.json", "tokenizer"])

    assert sorted(os.listdir(model_dir)) == sorted([MARKER, "handler.py", "model.pt", "my_model.py", "config.json", "tokenizer"])
    assert os.path.islink(model_dir / "model.pt")
    assert (model_dir / "model.pt").read_text() == "weights"
    assert (model_dir / "tokenizer" / "vocab.txt").read_text() == "a b c"
    assert placed["config.json"] == str((root / "configs/config.json").resolve())


def test_copy_mode_copies_files_and_folders(tmp_path, root):
    model_dir = tmp_path / "md"
    prepare_model_dir(str(model_dir), str(root), "handler.py", "ckpt/model.pt", ["tokenizer"], mode="copy")
    assert not os.path.islink(model_dir / "model.pt") and (model_dir / "model.pt").read_text() == "weights"
    assert not os.path.islink(model_dir / "tokenizer") and (model_dir / "tokenizer" / "vocab.txt").exists()


def test_two_files_with_the_same_bare_name_are_refused_naming_both(tmp_path, root):
    with pytest.raises(ModelDirError) as error:
        prepare_model_dir(str(tmp_path / "md"), str(root), "handler.py", None, ["configs/config.json", "src/config.json"])
    assert "configs/config.json" in str(error.value) and "src/config.json" in str(error.value)
    assert "'config.json'" in str(error.value)
    assert not (tmp_path / "md").exists()  # nothing is touched before the plan is known to work


def test_the_same_file_listed_twice_is_placed_once(tmp_path, root):
    placed = prepare_model_dir(str(tmp_path / "md"), str(root), "handler.py", "ckpt/model.pt", ["ckpt/model.pt"])
    assert sorted(placed) == ["handler.py", "model.pt"]


def test_a_symlinked_file_keeps_the_name_the_config_gives_it(tmp_path, root):
    os.symlink("ckpt/model.pt", root / "best.pt")
    prepare_model_dir(str(tmp_path / "md"), str(root), "handler.py", "best.pt", [])
    assert (tmp_path / "md" / "best.pt").read_text() == "weights"


@pytest.mark.parametrize(
    "model_files, message",
    [
        (["missing.json"], "missing.json does not exist"),
        (["../outside.txt"], "is outside the project root"),
        (["/etc/hostname"], "must be a path relative to the project root"),
        (["."], "is the project root itself"),
    ],
)
def test_bad_paths_are_refused(tmp_path, root, model_files, message):
    (tmp_path / "outside.txt").write_text("x")
    with pytest.raises(ModelDirError, match=message):
        prepare_model_dir(str(tmp_path / "md"), str(root), "handler.py", None, model_files)


def test_a_model_dir_is_rebuilt_but_a_foreign_folder_is_never_emptied(tmp_path, root):
    model_dir = tmp_path / "md"
    prepare_model_dir(str(model_dir), str(root), "handler.py", "ckpt/model.pt", ["src/my_model.py"])
    prepare_model_dir(str(model_dir), str(root), "handler.py", None, [])
    assert sorted(os.listdir(model_dir)) == [MARKER, "handler.py"]

    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("...")
    with pytest.raises(ModelDirError, match="not empty and was not made by Dynalab"):
        prepare_model_dir(str(foreign), str(root), "handler.py", None, [])
    assert (foreign / "thesis.tex").exists()
