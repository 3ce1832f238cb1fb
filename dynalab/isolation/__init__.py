"""Where the integrated test runs the packaged model: isolated backends behind one protocol (``backend``).

- ``sandbox/``: a scratch folder, a cached layered venv, no network (no Docker needed).
- ``docker/``: an image built with the docker SDK, run with ``network_mode="none"``.

Both lay out the same ``workspace`` (unpacked package, model dir, run spec, runtime
copy) and run the same ``launcher``; a run ends as a ``RunOutcome`` (``outcome``),
which ``diagnosis.diagnose`` turns into a cause and a fix when it failed;
``backend.get_backend`` gives a backend by name.
"""
