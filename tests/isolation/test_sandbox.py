"""The sandbox backend, for real: packaged model, cached venv layers, no network."""

import http.server
import re

import pytest

from isolation_support import reads_outside, snapshot
from loopback import LoopbackServer


@pytest.fixture
def weights_server():
    """A loopback HTTP server, reachable from the local test but not from inside the sandbox."""

    class Weights(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", "7")
            self.end_headers()
            self.wfile.write(b"weights")

        def log_message(self, *args):
            pass

    with LoopbackServer(Weights) as server:
        yield f"{server.url}/weights.bin"


def test_good_project_passes_and_leaves_the_project_unchanged(model):
    good = model("contract-nli")
    before = snapshot(good.root)
    result = good.integrated_test("sandbox")
    assert result.passed and result.backend == "sandbox" and result.datapoints > 0
    assert result.isolated, "the network should be cut on this machine"
    assert any("Integrated test passed" in line for line in good.output)
    assert snapshot(good.root) == before
    assert good.log_path.is_file() and '"event": "done"' in good.log_path.read_text()


def test_example_with_torch_passes(model):
    assert model("example").integrated_test("sandbox").passed


def test_project_written_for_the_original_contract_passes(model):
    assert model("contract-nli").integrated_test("sandbox").passed


def test_undeclared_import_names_the_module_and_requirements(model):
    case = model("undeclared-import")
    case.local_test()  # pyyaml is installed here, so the local test passes
    error = case.integrated_failure("sandbox")
    assert "No module named 'yaml'" in str(error)
    assert "pyyaml" in error.hint and "requirements.txt" in error.hint and "requirements: true" in error.hint


def test_network_use_at_load_says_there_is_no_network(model, weights_server):
    case = model("network-at-load")
    (case.root / "url.txt").write_text(weights_server + "\n")
    case.local_test()
    error = case.integrated_failure("sandbox")
    assert "network" in str(error)
    assert "no network access" in error.hint


def test_reading_an_excluded_file_names_the_file_and_the_exclude_entry(model):
    case = model("reads-excluded-file")
    case.local_test()
    error = case.integrated_failure("sandbox")
    assert "data/labels.json" in str(error)
    assert "`exclude` entry 'data'" in str(error)
    assert "`exclude`" in error.hint


def test_slow_load_names_the_tasks_load_timeout(model):
    error = model("slow-load").integrated_failure("sandbox")  # the task's load_timeout is 3s
    assert "load_timeout of 3s" in str(error)
    assert "load_timeout" in error.hint and "the task's `limits`" in error.hint


def test_declared_requirements_are_installed_and_a_handler_edit_reuses_the_layers(model, tmp_path, monkeypatch):
    monkeypatch.setenv("DYNALAB_CACHE_DIR", str(tmp_path / "cache"))  # a fresh dependency layer
    case = model("declared-requirement")
    assert case.integrated_test("sandbox").passed
    assert any("dependency environment" in line for line in case.output)
    # The fresh base layer took torch from this machine's wheel file, then only its dependencies.
    log = case.log_path.read_text()
    assert re.search(r"install --no-index --no-deps .*torch==", log)
    assert re.search(r"Processing /\S+/torch-\S+\.whl", log)
    assert "Requirement already satisfied: torch==" in log

    with open(case.root / "handler.py", "a") as handler:
        handler.write("# an edit of the handler only\n")
    case.output.clear()
    assert case.integrated_test("sandbox").passed
    assert not any("Building" in line for line in case.output), case.output


def test_packages_installed_only_on_this_machine_are_not_visible(model):
    # The same failure as an undeclared import, seen from the environment side:
    # docker, pytest and pyyaml are installed here but not in the sandbox.
    case = model("undeclared-import")
    error = case.integrated_failure("sandbox")
    assert "installed on this machine" in str(error)


def test_setup_py_project_is_installed_with_its_dependencies(model):
    case = model("setup-project")
    assert case.integrated_test("sandbox").passed
    # An edit of the package's code is seen on the next run, though the layer is reused.
    (case.root / "mypkg" / "__init__.py").write_text('LABEL = "not-a-label"\n')
    error = case.integrated_failure("sandbox")
    assert "invalid" in str(error) and "label" in str(error)


def test_batched_handler_passes_in_batched_mode(model):
    case = model("batched-nli")
    assert case.integrated_test("sandbox").passed
    assert '"batched": true' in case.log_path.read_text()


@pytest.mark.parametrize("outside", ["server-data/dynalab.sqlite3", "/etc/shadow"])
def test_a_handler_reading_outside_its_package_fails(model, bwrap, tmp_path, outside):
    # Files the local test can read (the server's database, say, or one only root may read): not in the sandbox.
    path, error = reads_outside(model, "sandbox", tmp_path, outside)
    assert f"the handler reads {path}, which is outside the package" in str(error)
    assert "ROOTPATH" in error.hint


def test_over_the_tasks_memory_limit_is_out_of_memory(model, bwrap):
    error = model("memory-hog").integrated_failure("sandbox")  # the task's memory limit is 256m
    assert "out of memory" in str(error) and "256m" in str(error)
    assert "`limits.memory`" in error.hint
