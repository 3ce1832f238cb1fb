"""What to do when a handler fails to import or load: the hint that goes with the error.

The local runner and the model server attach ``failure_hint`` to the error
they report. The integrated test's diagnosis (``dynalab.isolation.diagnosis``)
words the same failures with the functions below, so both tests name the same
fix for the same mistake.
"""

import os
import re

from dynalab.files import relative_inside
from dynalab.runtime.loader import HandlerLoadError

# Shown with a failure to load that nothing more specific explains: many handlers
# written for a plain local test break only because they do not expect the data=None call.
LOAD_HINT = (
    "the model loads in handle(None, context), called once before any request as TorchServe does; "
    "if the error comes from handling data=None, return early when data is None"
)


# Import names whose pip distribution has another name.
DISTRIBUTIONS = {
    "sklearn": "scikit-learn", "cv2": "opencv-python", "PIL": "pillow", "yaml": "pyyaml",
    "bs4": "beautifulsoup4", "skimage": "scikit-image", "Crypto": "pycryptodome", "dateutil": "python-dateutil",
    "google.protobuf": "protobuf", "attr": "attrs", "sentencepiece": "sentencepiece", "fitz": "pymupdf",
}

# The name a requirements.txt line starts with (PEP 508); options and comments have none.
REQUIREMENT_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def failure_hint(exc, stage, spec):
    """What to do about ``exc``, raised while importing ("import") or loading ("load")
    the handler of run spec ``spec``; or None."""
    if isinstance(exc, HandlerLoadError):
        return exc.hint
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        return missing_module_hint(exc.name, spec["rootpath"])
    if isinstance(exc, FileNotFoundError) and isinstance(exc.filename, str):
        opened = opened_in_model_dir(exc.filename, spec["model_dir"])
        found = find_in_project(spec["rootpath"], opened) if opened else []
        if found:
            return model_files_fix(opened, found[0])
    if stage == "load":
        return LOAD_HINT
    return None


def missing_module_hint(module, rootpath):
    """The fix for ``No module named <module>`` seen where the project lives at ``rootpath``."""
    if module == "dynalab" or module.startswith("dynalab."):
        return dynalab_import_hint(module)
    local = find_project_module(rootpath, module.split(".")[0])
    if local:
        return f"{local} is in the project but not next to the handler: {module_fix(local)}"
    listed = listed_requirement(rootpath, module)
    if listed:
        return f"requirements.txt lists {listed}, but it is not installed here: pip install -r requirements.txt"
    return (
        f"module {module!r} is missing: add {distribution_of(module)} to requirements.txt, or add "
        "the file to model_files so it sits next to the handler"
    )


def distribution_of(module):
    """The pip distribution that most likely provides ``module`` (by its top-level name)."""
    top = module.split(".")[0]
    return DISTRIBUTIONS.get(module) or DISTRIBUTIONS.get(top) or top


def listed_requirement(root, module):
    """The name under which ``<root>/requirements.txt`` lists the distribution of
    ``module`` (or one named like the module), or None."""
    wanted = {_normalised(distribution_of(module)), _normalised(module.split(".")[0])}
    try:
        with open(os.path.join(root, "requirements.txt"), encoding="utf-8", errors="replace") as file:
            lines = file.read().splitlines()
    except (OSError, TypeError):
        return None
    for line in lines:
        requirement = REQUIREMENT_NAME.match(line.split("#")[0].strip())
        if requirement and _normalised(requirement.group(1)) in wanted:
            return requirement.group(1)
    return None


def _normalised(distribution):
    # Distribution names compare case-insensitively, with runs of -, _ and . alike (PEP 503).
    return re.sub(r"[-_.]+", "-", distribution).lower()


def module_fix(local):
    """How to make the project's module or package ``local`` importable by the handler."""
    return f"add {local} to `model_files`, or import it through ROOTPATH (sys.path.append(ROOTPATH))"


def dynalab_import_hint(module):
    """The fix for importing ``module``, a part of Dynalab that does not exist."""
    from dynalab.tasks.first_api_rules import RECIPES

    first_api = ", ".join(f"dynalab.tasks.{code}" for code in RECIPES)
    prefix = "dynalab.tasks."
    code = module[len(prefix):] if module.startswith(prefix) else None
    today = f"TaskIO({code!r})" if code and "." not in code else "TaskIO('<task>')"
    return (
        f"{module} is not a module of Dynalab: import TaskIO from dynalab.tasks.task_io and use {today}; "
        f"the original's first API also has {first_api} (TaskIO() without a task code); "
        "BaseDynaHandler and ROOTPATH come from dynalab.handler.base_handler"
    )


def opened_in_model_dir(filename, model_dir):
    """``filename`` relative to the model dir (as the handler opened it), or None if it points elsewhere."""
    relative = relative_inside(os.path.join(model_dir, filename), model_dir)
    return None if relative in (None, ".") else relative


def find_in_project(root, relative):
    """The files of the project at ``root`` whose path ends with ``relative``, as
    relative paths, shortest first; hidden folders (``.dynalab``, ``.git``...) are skipped."""
    if not root or not os.path.isdir(root):
        return []
    found = []
    for folder, dirs, files in os.walk(root):
        # Hidden folders are never packaged; an installed package is no module of the project.
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "site-packages")
        for name in files:
            path = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
            if path == relative or path.endswith("/" + relative):
                found.append(path)
    return sorted(found, key=lambda path: (path.count("/"), path))


def find_project_module(root, top):
    """The project's module ``<top>.py`` or package ``<top>/`` (relative path), or None."""
    for candidate in (f"{top}.py", f"{top}/__init__.py"):
        found = find_in_project(root, candidate)
        if found:
            return found[0][: -len("/__init__.py")] if found[0].endswith("/__init__.py") else found[0]
    return None


def model_files_fix(opened, found):
    """The fix for a file the handler opened as ``opened`` from the model dir, found in the project as ``found``."""
    rootpath_way = f"or open it as os.path.join(ROOTPATH, {found!r})"
    if "/" not in opened:
        return (
            f"add {found} to `model_files` in the model config (model files are placed next to the "
            f"handler under their bare name), {rootpath_way}"
        )
    # Opened through a folder: the folder itself must be a model file, placed whole under its name.
    top = opened.split("/")[0]
    folder = found[: len(found) - len(opened)] + top
    return (
        f"add the folder {folder} to `model_files` in the model config (a folder is placed next to "
        f"the handler whole, under its own name), {rootpath_way}"
    )
