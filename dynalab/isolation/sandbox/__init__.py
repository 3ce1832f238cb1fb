"""The sandbox backend: a cached virtual environment and a network namespace, no Docker (see ``backend``)."""
