"""Where the integrated test runs the packaged model: isolated backends.

- ``sandbox``: a scratch folder, a cached layered venv, no network (no Docker needed).
- ``docker``: an image built with the docker SDK, run with ``network_mode="none"``.

A backend's ``run(project_root, archive, name, config, log, out)`` (``archive``: a
``packaging.ArchiveInfo``) returns a
``RunOutcome``; ``diagnosis.diagnose`` turns a failed one into a cause and a fix.
"""

from dynalab.config_schema import BACKENDS


def get_backend(name):
    """A backend instance by name (imported lazily: the docker SDK is slow to import)."""
    if name == "sandbox":
        from dynalab.isolation.sandbox import SandboxBackend

        return SandboxBackend()
    if name == "docker":
        from dynalab.isolation.docker_backend import DockerBackend

        return DockerBackend()
    raise ValueError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})")
