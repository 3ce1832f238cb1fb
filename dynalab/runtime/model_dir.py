"""The model dir: handler, checkpoint and model files side by side, as TorchServe unpacks them.

Handlers open their model files by bare name (``open("vocab.json")``) and
import them by bare name (``import my_model``), so every file is placed under
its base name, whatever folder of the project it comes from.
"""

import os
import shutil

from dynalab.files import is_inside

# Written into every model dir we build, so a later rebuild may empty it
# without ever deleting a folder we did not create.
MARKER = ".dynalab-model-dir"


class ModelDirError(ValueError):
    """Raised when the files cannot be laid out: missing, outside the root, or two share a name."""


def prepare_model_dir(model_dir, rootpath, handler, checkpoint, model_files, mode="symlink"):
    """Lay out ``handler``, ``checkpoint`` and ``model_files`` (paths relative to ``rootpath``) flat in ``model_dir``.

    ``mode`` is "symlink" (fast, for local runs) or "copy" (for an environment
    that cannot see the project). Returns {bare name: source path}.
    A folder in ``model_files`` is placed as one entry under its own name.
    """
    if mode not in ("symlink", "copy"):
        raise ValueError(f"mode must be 'symlink' or 'copy', not {mode!r}")
    rootpath = os.path.realpath(rootpath)
    sources = _plan(rootpath, handler, checkpoint, model_files)
    _reset(model_dir)
    for name, (relative, source) in sources.items():
        target = os.path.join(model_dir, name)
        if mode == "symlink":
            os.symlink(source, target)
        elif os.path.isdir(source):
            shutil.copytree(source, target, symlinks=False)
        else:
            shutil.copy2(source, target)
    return {name: source for name, (relative, source) in sources.items()}


def check_model_files(rootpath, handler, checkpoint, model_files):
    """Check that ``prepare_model_dir`` could lay these files out, without touching the disk.

    Raises ModelDirError naming the file (missing, outside the root, or a name
    clash); returns {bare name: source path}.
    """
    sources = _plan(os.path.realpath(rootpath), handler, checkpoint, model_files)
    return {name: source for name, (relative, source) in sources.items()}


def placed_name(relative):
    """The bare name under which the file at ``relative`` is placed in the model dir."""
    # The name the handler uses is the one written in the config, even if
    # that entry is a symlink to a file of another name.
    return os.path.basename(os.path.normpath(relative))


def _plan(rootpath, handler, checkpoint, model_files):
    """{bare name: (relative path, absolute source)}, checked for clashes before touching the disk."""
    entries = [("handler", handler)]
    if checkpoint:
        entries.append(("checkpoint", checkpoint))
    entries += [("model_files", path) for path in model_files or ()]
    sources = {}
    for field, relative in entries:
        source = _source(rootpath, field, relative)
        name = placed_name(relative)
        if name == MARKER:
            raise ModelDirError(f"{field}: {relative} has a name reserved by Dynalab ({MARKER})")
        if name in sources:
            other, other_source = sources[name]
            if other_source == source:
                continue  # the same file listed twice (e.g. the checkpoint also in model_files)
            raise ModelDirError(
                f"{other} and {relative} would both be placed in the model dir as {name!r}; "
                "files are flattened by name, so rename one of them"
            )
        sources[name] = (relative, source)
    return sources


def _source(rootpath, field, relative):
    if os.path.isabs(relative):
        raise ModelDirError(f"{field}: {relative} must be a path relative to the project root")
    source = os.path.realpath(os.path.join(rootpath, relative))
    if source == rootpath:
        raise ModelDirError(f"{field}: {relative!r} is the project root itself, not a file in it")
    if not is_inside(source, rootpath):
        raise ModelDirError(f"{field}: {relative} is outside the project root {rootpath}")
    if not os.path.exists(source):
        raise ModelDirError(f"{field}: {relative} does not exist under {rootpath}")
    return source


def _reset(model_dir):
    """An empty ``model_dir`` holding only the marker; refuses to empty a folder it did not make."""
    if os.path.lexists(model_dir):
        if not os.path.isdir(model_dir) or os.path.islink(model_dir):
            raise ModelDirError(f"model dir {model_dir} exists and is not a folder")
        entries = os.listdir(model_dir)
        if entries and MARKER not in entries:
            raise ModelDirError(f"model dir {model_dir} is not empty and was not made by Dynalab; choose another path")
        shutil.rmtree(model_dir)
    os.makedirs(model_dir)
    with open(os.path.join(model_dir, MARKER), "w", encoding="utf-8") as file:
        file.write("Made by Dynalab: emptied and rebuilt on every run.\n")
