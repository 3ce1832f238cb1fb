"""Importing the handler: what it can import, and clear errors when it cannot be used."""

import pytest

from dynalab.runtime.loader import HandlerLoadError, import_handler
from runtime_support import of_kind, run_local


def test_modules_of_the_launch_directory_are_not_importable(runtime_spec):
    # Launched from the project root, the handler must still not import project
    # modules that are not model files: they would be missing once packaged.
    spec = runtime_spec("missing_module", prepare=lambda root: (root / "my_tokenizer.py").write_text("X = 1\n"))

    result = run_local(spec, cwd=spec.parent.parent / "project")

    error = of_kind(result.events, "error")[0]
    assert error["stage"] == "import" and "my_tokenizer" in error["message"]


def test_a_handler_named_like_a_loaded_module_is_refused(tmp_path):
    (tmp_path / "json.py").write_text("def handle(data, context): pass\n")
    with pytest.raises(HandlerLoadError, match="'json' is already taken") as error:
        import_handler({"model_dir": str(tmp_path), "handler": "json.py"})
    assert "rename json.py" in error.value.hint


def test_a_missing_handler_file_is_named(tmp_path):
    with pytest.raises(HandlerLoadError, match="handler.py not found in the model dir"):
        import_handler({"model_dir": str(tmp_path), "handler": "handler.py"})
