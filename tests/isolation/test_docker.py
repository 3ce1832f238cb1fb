"""The Docker backend, against a real engine: build, run without network, always clean up."""

import pytest

from dynalab.errors import IntegratedTestFailed
from dynalab.isolation.docker import image as docker_image
from isolation_support import NAME, reads_outside, snapshot

pytestmark = pytest.mark.docker


def test_good_project_passes_and_leaves_the_project_unchanged(model, docker):
    good = model("contract-nli")
    before = snapshot(good.root)
    result = good.integrated_test("docker")
    assert result.passed and result.backend == "docker" and result.datapoints > 0
    assert snapshot(good.root) == before


def test_example_with_torch_passes_and_a_handler_edit_reuses_the_dependency_layers(model, docker):
    example = model("example")
    assert example.integrated_test("docker").passed
    with open(example.root / "handler.py", "a") as handler:
        handler.write("# an edit of the handler only\n")
    assert example.integrated_test("docker").passed
    log = example.log_path.read_text()
    runtime_step = log.index("COPY runtime/")
    code_step = log.index("COPY code/")
    # Every layer before the code is reused; only the code and what follows are rebuilt.
    assert log[:runtime_step].count("Using cache") >= 5
    assert "Using cache" in log[runtime_step:code_step]
    assert "Using cache" not in log[code_step : log.index("COPY spec.json")]


def test_unchanged_package_reuses_the_image(model, docker):
    good = model("contract-nli")
    good.integrated_test("docker")
    good.output.clear()
    good.integrated_test("docker")
    assert any("Reusing the Docker image" in line for line in good.output)


def test_project_written_for_the_original_contract_passes(model, docker):
    assert model("contract-nli").integrated_test("docker").passed


def test_declared_requirements_are_installed(model, docker):
    assert model("declared-requirement").integrated_test("docker").passed


def test_setup_py_project_is_installed(model, docker):
    assert model("setup-project").integrated_test("docker").passed


def test_undeclared_import_names_the_module(model, docker):
    error = model("undeclared-import").integrated_failure("docker")
    assert "No module named 'yaml'" in str(error) and "requirements.txt" in error.hint


def test_network_use_at_load_says_there_is_no_network(model, docker):
    error = model("network-at-load").integrated_failure("docker")
    assert "network" in str(error) and "no network access" in error.hint


def test_reading_an_excluded_file_names_the_file(model, docker):
    error = model("reads-excluded-file").integrated_failure("docker")
    assert "data/labels.json" in str(error) and "'data'" in str(error)


def test_the_container_holds_none_of_this_machines_files(model, docker, tmp_path):
    outside = tmp_path / "outside-the-project.txt"
    outside.write_text("on this machine only\n")
    case = model("reads-host-file")
    (case.root / "host_path.txt").write_text(f"{outside}\n")
    case.local_test()  # the file is there for the local test
    error = case.integrated_failure("docker")
    assert str(outside) in str(error) and "outside the package" in str(error)


def test_over_the_memory_limit_names_the_limit(model, docker):
    error = model("memory-hog").integrated_failure("docker")
    assert "out of memory" in str(error) and "256m" in str(error)
    assert "`limits.memory`" in error.hint


def test_a_failed_build_step_stops_the_test_and_is_shown(model, docker):
    case = model("declared-requirement")
    (case.root / "requirements.txt").write_text("dynalab-no-such-package-4f9c2e==1.0\n")
    dangling = {image.id for image in docker.images.list(filters={"dangling": True})}
    error = case.integrated_failure("docker")
    for image in docker.images.list(filters={"dangling": True}):
        if image.id not in dangling:  # the failed build's last layer, kept by Docker as build cache
            docker.images.remove(image.id)
    assert "build failed at Step" in str(error) and "requirements.txt" in str(error)
    assert any("dynalab-no-such-package-4f9c2e" in line for line in case.output)


def test_earlier_images_of_the_model_are_replaced(model, docker):
    good = model("contract-nli")
    good.integrated_test("docker")
    (good.root / "handler.py").write_text((good.root / "handler.py").read_text() + "# edit\n")
    good.integrated_test("docker")
    repository = docker_image.image_repository(good.root, NAME)
    tags = [tag for image in docker.images.list(name=repository) for tag in image.tags if tag.startswith(repository + ":")]
    assert len(tags) == 1, tags


def test_unreachable_docker_is_one_line_suggesting_the_sandbox(model, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    with pytest.raises(IntegratedTestFailed) as caught:
        model("contract-nli").integrated_test("docker")
    message = str(caught.value)
    assert "Docker is not reachable" in message and "--backend sandbox" in message
    assert "\n" not in message


def test_predict_runs_the_users_example_in_the_integrated_tests_image(model, docker):
    import json

    from dynalab import steps

    good = model("contract-nli")
    good.integrated_test("docker")
    example = {"context": "A man is sleeping.", "hypothesis": "A person rests.", "uid": "mine"}
    result = steps.predict(good.project, NAME, input=json.dumps(example), integrated=True, backend="docker",
                           out=good.output.append)
    [prediction] = result.details["predictions"]
    assert prediction["passed"] and prediction["response"]["id"] == "mine"
    assert "  checks passed" in good.output
    assert any("Reusing the Docker image" in line for line in good.output), "the example goes in, not a new image"


@pytest.mark.parametrize("outside", ["server-data/dynalab.sqlite3", "/etc/shadow"])
def test_a_handler_reading_outside_its_package_fails(model, docker, tmp_path, outside):
    # The database is not in the container; /etc/shadow is, but the model's user (nobody) cannot read it.
    path, error = reads_outside(model, "docker", tmp_path, outside)
    assert f"the handler reads {path}, which is outside the package" in str(error)
