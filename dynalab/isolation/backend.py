"""What an integrated-test backend is: a name and one method, ``run``; and how to get one by name."""

from typing import Protocol

from dynalab.project.schema import BACKENDS


class Backend(Protocol):
    """Runs the launcher (model server and probe, see ``launcher.py``) on a package, isolated."""

    name: str

    def run(self, project_root, archive, name, config, log, out=print, examples=None):
        """Run model ``name`` of the package ``archive`` (a ``packaging.ArchiveInfo``) and return a
        ``RunOutcome``; the whole output goes to ``log``, progress lines to ``out``. ``examples``
        (example dicts) are sent instead of the task's mock datapoints."""


def get_backend(name):
    """A backend instance by name (imported lazily: the docker SDK is slow to import)."""
    if name == "sandbox":
        from dynalab.isolation.sandbox.backend import SandboxBackend

        return SandboxBackend()
    if name == "docker":
        from dynalab.isolation.docker.backend import DockerBackend

        return DockerBackend()
    raise ValueError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})")
