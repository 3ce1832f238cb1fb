"""This machine's settings (~/.dynalab/settings.yaml), their order, and `dynalab-cli doctor`."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from dynalab.project import settings
from dynalab.project.config import load_config
from dynalab.isolation.docker import image as docker_image
from dynalab.isolation.wheels import wheelhouse
from dynalab.project import Project

REPO = Path(__file__).resolve().parent.parent.parent
LOCAL_BASE_IMAGE = "local/debian-py:bookworm"  # what .ci/docker-setup builds
INIT = ["init", "-n", "m", "-t", "nli", "--model-checkpoint", "model.pt", "--handler", "handler.py",
        "--model-files", "labels.json,rules.py"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """The home the `cli` fixture gives its processes, for this process too; no overriding variables."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("DYNALAB_HOME", str(home))
    for name in ("DYNALAB_DOCKER_BASE_IMAGE", "DYNALAB_WHEELHOUSE", "DYNALAB_API_URL", "DYNALAB_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return home


def write_settings(home, text):
    path = home / ".dynalab" / "settings.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def edit_config(project, change):
    path = project / ".dynalab" / "m" / "config.yaml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config))


@pytest.fixture
def project(make_project, cli, home):
    project = make_project("contract-nli")
    assert cli(*INIT, cwd=project).returncode == 0
    return project


def test_each_setting_comes_from_the_variable_then_the_model_config_then_the_settings_then_the_default(
        project, home, monkeypatch, tmp_path):
    def config():
        return load_config(Project(project), "m")

    for folder in ("settings", "config", "variable"):
        (tmp_path / folder).mkdir()
    assert docker_image.base_image(config()) == "python:3.11-slim"
    assert wheelhouse(config()) is None
    write_settings(home, f"integrated_test:\n  docker:\n    base_image: from/settings\n    wheelhouse: {tmp_path}/settings\n")
    assert docker_image.base_image(config()) == "from/settings"
    assert wheelhouse(config()) == tmp_path / "settings"

    def in_config(value):
        def change(config):
            config["integrated_test"]["docker"].update(base_image=value, wheelhouse=value and f"{tmp_path}/config")
        return change

    edit_config(project, in_config("from/config"))
    assert docker_image.base_image(config()) == "from/config"
    assert wheelhouse(config()) == tmp_path / "config"
    monkeypatch.setenv("DYNALAB_DOCKER_BASE_IMAGE", "from/variable")
    monkeypatch.setenv("DYNALAB_WHEELHOUSE", str(tmp_path / "variable"))
    assert docker_image.base_image(config()) == "from/variable"
    assert wheelhouse(config()) == tmp_path / "variable"
    assert settings.resolve("base_image", config(), ".dynalab/m/config.yaml").source == "DYNALAB_DOCKER_BASE_IMAGE"


def test_the_settings_backend_is_the_default_of_configs_that_name_none(project, home, cli, make_project):
    write_settings(home, "integrated_test:\n  backend: docker\n")
    edit_config(project, lambda config: config["integrated_test"].pop("backend"))
    assert load_config(Project(project), "m")["integrated_test"]["backend"] == "docker"
    edit_config(project, lambda config: config["integrated_test"].update(backend="sandbox"))
    assert load_config(Project(project), "m")["integrated_test"]["backend"] == "sandbox"  # the config's own wins
    fresh = make_project("contract-nli", name="fresh")
    assert cli(*INIT, cwd=fresh).returncode == 0
    written = yaml.safe_load((fresh / ".dynalab" / "m" / "config.yaml").read_text())
    assert written["integrated_test"]["backend"] == "docker"  # init writes the user's default


@pytest.mark.parametrize("text, words", [
    ("integrated_test:\n  backend: dokcer\n", ["field `integrated_test.backend` = 'dokcer': unallowed value dokcer",
                                              "hint: use sandbox or docker"]),
    ("base_image: local/x\n", ["field `base_image` = 'local/x': unknown field",
                               "known fields: api_url, integrated_test"]),
    ("integrated_test:\n  docker:\n    cpus: 2\n", ["field `integrated_test.docker.cpus` = 2: unknown field"]),
    ("api_url: [1\n", ["not valid YAML"]),
    ("- docker\n", ["expected a mapping of settings"]),
])
def test_a_bad_settings_file_is_one_line_naming_the_file_and_field(project, home, cli, text, words):
    path = write_settings(home, text)
    result = cli("test", "--local", "-n", "m", cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"error: {path}") and "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


def test_doctor_shows_each_setting_where_it_comes_from_and_what_this_machine_can_run(project, home, cli):
    path = write_settings(home, f"integrated_test:\n  docker:\n    base_image: {LOCAL_BASE_IMAGE}\n")
    result = cli("doctor", cwd=project, env={"DYNALAB_WHEELHOUSE": "/srv/wheels", "DYNALAB_DOCKER_BASE_IMAGE": ""})
    assert result.returncode == 0, result.stdout + result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    assert rows["api_url"].split()[1:] == ["http://127.0.0.1:8000", "(default)"]
    assert rows["integrated_test.backend"].split()[1:] == ["sandbox", "(.dynalab/m/config.yaml)"]
    assert rows["integrated_test.docker.base_image"].split()[1:] == [LOCAL_BASE_IMAGE, f"({path})"]
    assert rows["integrated_test.docker.wheelhouse"].split()[1:] == ["/srv/wheels", "(DYNALAB_WHEELHOUSE)"]
    assert rows["login"].split(None, 1)[1] == "no API token: not logged in"
    for check in ("torch", "docker"):
        assert check in rows
    assert "sandbox confinement" in result.stdout
    # What this machine has: the verdicts follow from what is there (see the environment notes).
    assert "2.13.0" in rows["torch"] or "not installed" in rows["torch"]


def test_doctor_with_a_bad_settings_file_still_checks_the_machine_and_fails(project, home, cli):
    write_settings(home, "integrated_test:\n  backend: dokcer\n")
    result = cli("doctor", cwd=project)
    assert result.returncode == 2
    assert "This machine:" in result.stdout and "docker" in result.stdout
    assert "field `integrated_test.backend` = 'dokcer'" in result.stderr


def test_test_help_shows_the_settings_in_effect_and_points_to_doctor(project, home, cli):
    path = write_settings(home, f"integrated_test:\n  docker:\n    base_image: {LOCAL_BASE_IMAGE}\n")
    result = cli("test", "--help", cwd=project, env={"DYNALAB_DOCKER_BASE_IMAGE": ""})
    assert result.returncode == 0
    assert "`dynalab-cli doctor` says where each comes from" in result.stdout
    assert f"integrated_test.docker.base_image  {LOCAL_BASE_IMAGE}   ({path})" in result.stdout


def docker_with_the_local_base_image():
    try:
        import docker

        client = docker.from_env(timeout=30)
        client.images.get(LOCAL_BASE_IMAGE)
        return client
    except Exception as error:
        message = f"no Docker engine with {LOCAL_BASE_IMAGE} ({error}); run .ci/docker-setup"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.docker
def test_after_the_setup_the_docker_backend_uses_the_base_image_it_built(project, home, cli):
    """The README's setup builds a local base image: `test --backend docker` must use it, not python:3.11-slim."""
    client = docker_with_the_local_base_image()
    setup = subprocess.run(["bash", str(REPO / ".ci" / "docker-setup")], capture_output=True, text=True,
                           env={**os.environ, "DYNALAB_HOME": str(home), "PYTHONPATH": str(REPO)})
    assert setup.returncode == 0, setup.stdout + setup.stderr
    written = yaml.safe_load((home / ".dynalab" / "settings.yaml").read_text())
    assert written == {"integrated_test": {"docker": {"base_image": LOCAL_BASE_IMAGE}}}
    try:
        result = cli("test", "-n", "m", "--backend", "docker", cwd=project, env={"DYNALAB_DOCKER_BASE_IMAGE": ""})
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"from {LOCAL_BASE_IMAGE}" in result.stdout and "Integrated test passed on the docker backend" in result.stdout
    finally:
        for image in client.images.list(name=docker_image.image_repository(project, "m")):
            for tag in image.tags:
                client.images.remove(tag)
        client.close()
