"""Fixtures of the integrated-test suites: fixture projects as models, a real Docker engine."""

import os

import pytest

from isolation_support import NAME, Model
from prerequisites import missing

LOCAL_BASE_IMAGE = "local/debian-py:bookworm"  # built without a registry by .ci/docker-setup


@pytest.fixture
def model(make_project):
    """``model(case, **config)``: fixture project ``case`` copied and initialised as model NAME."""

    def make(case, **overrides):
        return Model(make_project(case), case, **overrides)

    return make


@pytest.fixture
def bwrap():
    """A working bubblewrap, which confines the sandbox: skipped without one, except in CI."""
    from dynalab.isolation.sandbox.confinement import bubblewrap

    found = bubblewrap()
    if found is None:
        missing("no working bubblewrap (`bwrap`); run .ci/setup (Debian's package bubblewrap)")
    return found


@pytest.fixture(scope="session")
def docker_engine():
    """A reachable Docker engine: skipped without one, except in CI, where that is a failure.

    At the end, the tests' images are removed except the newest, whose parent
    layers (torch above all) stay cached for the next run.
    """
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as error:
        missing(f"Docker is not reachable ({error}); run .ci/docker-setup")
    yield client
    built = sorted((created, tag) for tag, created in _our_tags(client).items())
    for _, tag in built[:-1]:
        client.images.remove(tag)
    client.close()


@pytest.fixture
def docker(docker_engine, monkeypatch, tmp_path):
    """The engine, with the locally built base image unless one is chosen; no container of the
    test's projects (under its tmp_path) may outlive the test. Other runs on the same engine
    are none of its business."""
    from dynalab.isolation.docker.image import LABEL, image_repository

    if not os.environ.get("DYNALAB_DOCKER_BASE_IMAGE"):
        monkeypatch.setenv("DYNALAB_DOCKER_BASE_IMAGE", LOCAL_BASE_IMAGE)
    yield docker_engine
    ours = {image_repository(folder, NAME) for folder in tmp_path.iterdir() if folder.is_dir()}
    left = [c for c in docker_engine.containers.list(all=True, filters={"label": LABEL})
            if c.attrs.get("Config", {}).get("Image", "").split(":")[0] in ours]
    assert not left, f"containers left behind: {[c.name for c in left]}"


def _our_tags(client):
    """{tag: creation time} of the images the tests build (model NAME in dynalab-test/...)."""
    from dynalab.isolation.docker.image import LABEL

    return {
        tag: image.attrs["Created"]
        for image in client.images.list(filters={"label": f"{LABEL}={NAME}"})
        for tag in image.tags
        if tag.startswith("dynalab-test/")
    }
