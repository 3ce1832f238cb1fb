"""torch comes from a wheel file on this machine, never from the package index.

The lookup is checked on folders of wheel-named files; the environments'
installs from the real wheel are checked by the sandbox and Docker suites
(a fresh sandbox cache in test_sandbox, every image build in test_docker).
"""

import os

import pytest

from dynalab.errors import IntegratedTestFailed
from dynalab.isolation.wheels import installed_version
from dynalab.isolation.wheels import torch_install, torch_wheels

VERSION = "2.13.0+cpu"
WHEEL = f"torch-{VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl"


def config(wheelhouse=None):
    return {"integrated_test": {"docker": {"wheelhouse": str(wheelhouse) if wheelhouse else None}}}


def folder_with(path, *names):
    path.mkdir()
    for name in names:
        (path / name).write_bytes(b"")  # the lookup goes by file name
    return path


@pytest.fixture
def pip_without_find_links(monkeypatch):
    """pip's settings as on a machine with no find-links: none in the environment, no config file read."""
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)


def test_the_wheelhouse_wins_over_pips_find_links(tmp_path, monkeypatch):
    links = folder_with(tmp_path / "links", WHEEL)
    house = folder_with(tmp_path / "house", WHEEL, "torch-2.12.0+cpu-cp311-cp311-linux_x86_64.whl", "numpy-2.0-py3-none-any.whl")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    assert torch_wheels(config(house), VERSION) == [house / WHEEL]
    monkeypatch.setenv("DYNALAB_WHEELHOUSE", str(links))  # the variable overrides the config
    assert torch_wheels(config(house), VERSION) == [links / WHEEL]


def test_without_a_wheelhouse_the_wheel_comes_from_pips_find_links(tmp_path, monkeypatch):
    monkeypatch.delenv("DYNALAB_WHEELHOUSE", raising=False)
    from_env = folder_with(tmp_path / "from-env", WHEEL.replace("+", "%2B"))  # as a URL-quoted download is named
    from_file = folder_with(tmp_path / "from-file", WHEEL)
    pip_conf = tmp_path / "pip.conf"
    pip_conf.write_text(f"[install]\nfind-links = file://{from_file}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(pip_conf))
    monkeypatch.setenv("PIP_FIND_LINKS", str(from_env))
    found = torch_wheels(config(), VERSION)
    assert from_env / WHEEL.replace("+", "%2B") in found and from_file / WHEEL in found
    assert not any(path.name.startswith("torch-2.12") for path in found)


def test_a_wheelhouse_without_torch_is_an_error_naming_what_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv("DYNALAB_WHEELHOUSE", raising=False)
    house = folder_with(tmp_path / "house", "torch-2.12.0+cpu-cp311-cp311-linux_x86_64.whl")
    with pytest.raises(IntegratedTestFailed) as caught:
        torch_wheels(config(house), VERSION)
    assert f"no wheel of torch {VERSION}" in str(caught.value) and str(house) in str(caught.value)
    assert "DYNALAB_WHEELHOUSE" in caught.value.hint and f"torch-{VERSION}-*.whl" in caught.value.hint


def test_no_find_links_and_no_wheelhouse_is_an_error_too(monkeypatch, pip_without_find_links):
    monkeypatch.delenv("DYNALAB_WHEELHOUSE", raising=False)
    with pytest.raises(IntegratedTestFailed) as caught:
        torch_wheels(config(), VERSION)
    assert "no wheelhouse is set and pip has no find-links folder" in str(caught.value)


def test_a_wheelhouse_that_is_not_a_folder_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("DYNALAB_WHEELHOUSE", str(tmp_path / "missing"))
    with pytest.raises(IntegratedTestFailed, match="is not a folder"):
        torch_wheels(config(), VERSION)


def test_torch_is_installed_without_the_index_then_its_dependencies():
    torch_only, dependencies = torch_install(VERSION, ["/wheels"])
    assert torch_only == ["install", "--no-index", "--no-deps", "--find-links", "/wheels", f"torch=={VERSION}"]
    assert dependencies == ["install", "--find-links", "/wheels", f"torch=={VERSION}"]


@pytest.fixture
def empty_wheelhouse(tmp_path, monkeypatch, torch):
    """A wheelhouse without torch, a fresh environment cache, and pip kept off the index."""
    house = folder_with(tmp_path / "wheelhouse", "numpy-2.0-py3-none-any.whl")
    monkeypatch.setenv("DYNALAB_WHEELHOUSE", str(house))
    monkeypatch.setenv("DYNALAB_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # even a pip that did run could not reach the index
    return house


def test_the_sandbox_stops_before_pip_when_no_torch_wheel_is_found(model, empty_wheelhouse, tmp_path):
    case = model("contract-nli")
    error = case.integrated_failure("sandbox")
    assert f"no wheel of torch {installed_version('torch')}" in str(error) and str(empty_wheelhouse) in str(error)
    assert "DYNALAB_WHEELHOUSE" in error.hint
    assert " -m pip " not in case.log_path.read_text()
    assert not list((tmp_path / "cache" / "envs").glob("base-*"))  # no half-built layer either


def test_docker_stops_before_the_build_when_no_torch_wheel_is_found(model, empty_wheelhouse, docker):
    case = model("contract-nli")
    error = case.integrated_failure("docker")
    assert f"no wheel of torch {installed_version('torch')}" in str(error) and "DYNALAB_WHEELHOUSE" in error.hint
    assert not any("Building the Docker image" in line for line in case.output)
