"""What a step's fingerprint can cover: each input by name, how it is read, and what help calls it.

A step declares the names it covers (``Step.covers``); the runner reads those
inputs for the step's run (a ``StepRun``) and hashes them together
(``cache.fingerprint``). Reading them is cheap: files are hashed only when
their size, mtime or inode changed, and nothing here imports torch.
"""

import platform

import dynalab


def _torch(run):
    from dynalab.isolation.wheels import installed_version

    return installed_version("torch")


def _recipe(run):
    from dynalab.isolation.sandbox.environment import RECIPE

    return RECIPE


def _setting(name):
    def read(run):
        from dynalab.project.settings import resolve

        return resolve(name, run.model.config).value

    return read


INPUTS = {
    # name: (how it is read from a StepRun, what help calls it)
    "dynalab": (lambda run: dynalab.__version__, "Dynalab's version"),
    "python": (lambda run: platform.python_version(), "the Python version"),
    "torch": (_torch, "the torch version"),
    "config": (lambda run: run.model.config, "the model's config"),
    "task": (lambda run: run.model.definition, "the task definition"),
    "files": (lambda run: run.model.file_digests(), "every packaged file"),
    "archive": (lambda run: run.result("package").value.sha256, "the package's sha256"),
    "backend": (lambda run: run.prepared, "the backend"),
    "settings": (lambda run: run.model.config["integrated_test"], "the integrated test's settings"),
    "recipe": (_recipe, "how the sandbox's environments are built"),
    "base_image": (_setting("base_image"), "the docker base image"),
    "wheelhouse": (_setting("wheelhouse"), "the wheelhouse"),
}


def read(names, run):
    """{name: value} of the inputs ``names`` for ``run``."""
    return {name: INPUTS[name][0](run) for name in names}


def describe(names):
    """The inputs ``names`` as help lists them."""
    return [INPUTS[name][1] for name in names]
