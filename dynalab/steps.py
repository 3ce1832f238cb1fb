"""The workflow's steps as plain functions: init → local test → package → integrated test → upload.

Each step that can be cached computes a fingerprint of its inputs and skips
itself when that fingerprint has passed before. A step runs the steps it
depends on first (each of them skipped when cached), so any step can be asked
for on its own. The invoke tasks in ``dynalab.workflow`` are thin wrappers.
"""

import platform
from contextlib import contextmanager

import dynalab
from dynalab.config import load_config
from dynalab.config_schema import BACKENDS
from dynalab.errors import ConfigError, IntegratedTestFailed, UsageError
from dynalab.fingerprint import HashCache, fingerprint
from dynalab.settings import resolve as resolve_setting
from dynalab.state import State
from dynalab.task_definitions import resolve_task_definition, write_packaged_copy

LOCAL_TEST = "local_test"
INTEGRATED_TEST = "integrated_test"


class ModelContext:
    """A model's config, task definition and state, loaded once per command."""

    def __init__(self, project, name):
        self.project = project
        self.name = project.resolve_model_name(name)
        self.config = load_config(project, self.name)
        source = project.relative(project.config_path(self.name))
        self.definition = resolve_task_definition(project, self.config, source)
        write_packaged_copy(project, self.definition)
        self.state = State(project.state_path(self.name))

    def log_path(self, step):
        return self.project.logs_dir(self.name) / f"{step.replace('_', '-')}.log"


def local_test(project, name, force=False, out=print):
    """Run the local test unless it passed with the same inputs; returns the model."""
    return _local_test(ModelContext(project, name), force, out)


def _local_test(model, force, out):
    project = model.project
    with unreadable_files_as_config_errors():
        key = fingerprint(local_test_inputs(model))
    record = model.state.passed(LOCAL_TEST, key)
    if record and not force:
        _say_once(out, f"Local test skipped: nothing changed since it passed at {record['finished_at']} (--force reruns it)")
        return model
    from dynalab.local_test import run_local_test

    out(f"Local test of model {model.name!r} (task {model.config['task']!r})")
    with model.state.running(LOCAL_TEST, key):
        run_local_test(project, model.name, model.config, model.definition, model.log_path(LOCAL_TEST), out)
    return model


def local_test_inputs(model):
    """Everything the local test's result depends on."""
    from dynalab.isolation.environment import installed_version
    from dynalab.packaging import list_package_files

    project, config = model.project, model.config
    needed = {config["handler"], config["checkpoint"], *config["model_files"]}
    with HashCache(project.hash_cache_path) as hashes:
        files = {
            relative: hashes.digest(project.root / relative)
            for relative in sorted(set(list_package_files(project.root, model.name, config)) | needed)
            if (project.root / relative).is_file()
        }
    return {
        "dynalab": dynalab.__version__,
        "python": platform.python_version(),
        "torch": installed_version("torch"),
        "config": config,
        "task": model.definition,
        "files": files,
    }


def package(project, name, force=False, out=print):
    """Build (or reuse) the archive that upload will send; returns (model, archive)."""
    model = ModelContext(project, name)
    return model, _package(model, force, out)


def _package(model, force, out):
    from dynalab.packaging import build_archive
    from dynalab.size_check import human_size

    project = model.project
    archive_path = project.build_dir(model.name) / f"{model.name}.tar.gz"
    with unreadable_files_as_config_errors():
        archive = build_archive(project.root, model.name, model.config, archive_path, force=force)
    out(
        f"Package {project.relative(archive.path)}: {human_size(archive.size)}, "
        f"{archive.file_count} files, sha256 {archive.sha256}"
    )
    return archive


def integrated_test(project, name, backend=None, force=False, out=print):
    """Run the local test, package, then the integrated test unless cached; returns (model, archive)."""
    model = ModelContext(project, name)
    return model, _integrated_test(model, backend, force, out)


def _integrated_test(model, backend, force, out):
    if backend is not None and backend not in BACKENDS:
        raise UsageError(f"unknown backend {backend!r}", hint=f"use --backend {' or --backend '.join(BACKENDS)}")
    project = model.project
    # Its dependencies first, each skipped when cached; one model context for all.
    _local_test(model, False, out)
    archive = _package(model, False, out)
    settings = model.config["integrated_test"]
    backend = backend or settings["backend"]
    from dynalab.isolation.environment import RECIPE, installed_version

    key = fingerprint({
        "dynalab": dynalab.__version__,
        "archive": archive.sha256,
        "backend": backend,
        "settings": settings,
        # What the environment is built from, besides the package.
        "torch": installed_version("torch"),
        "recipe": RECIPE,
        "base_image": resolve_setting("base_image", model.config).value,
        "wheelhouse": resolve_setting("wheelhouse", model.config).value,
    })
    record = model.state.passed(INTEGRATED_TEST, key)
    if record and "isolated" in record and not force:  # a pass recorded without `isolated` (older Dynalab): rerun
        unisolated = "" if record["isolated"] else " WITHOUT network isolation"
        _say_once(
            out,
            f"Integrated test skipped: package {archive.sha256[:12]} passed on {backend}{unisolated} "
            f"at {record['finished_at']} (--force reruns it)",
        )
        return archive
    from dynalab.integrated_test import run_integrated_test

    out(f"Integrated test of model {model.name!r} on the {backend} backend")
    with model.state.running(INTEGRATED_TEST, key, archive_sha256=archive.sha256, backend=backend) as extra:
        result = run_integrated_test(
            project.root, model.name, model.config, backend, archive, model.log_path(INTEGRATED_TEST), out=out
        )
        extra["isolated"] = result.isolated
    return archive


@contextmanager
def unreadable_files_as_config_errors():
    """A project file that cannot be read (permissions, vanished) is the user's to fix, not a bug."""
    try:
        yield
    except OSError as error:
        where = error.filename or "a project file"
        raise ConfigError(f"cannot read {where}: {error.strerror or error}",
                          hint="fix its permissions, or add it to `exclude` if the model does not need it") from None


_said = set()


def _say_once(out, line):
    # Chained steps re-check the steps they depend on: say each "skipped" once per command.
    if line not in _said:
        _said.add(line)
        out(line)


def upload(project, name, api_url=None, backend=None, force=False, progress=True, allow_unisolated=False, out=print):
    """Upload the package once it passed the integrated test; returns the receipt record.

    A pass made without network isolation (``isolated: false`` in the step's
    record) is refused unless ``allow_unisolated``: its network use was never checked.
    """
    from dynalab.client import api, auth
    from dynalab.client.upload import upload as send, was_uploaded

    model = ModelContext(project, name)
    # Where to and as whom are settled first: a missing token should not wait for the tests.
    server = api.resolve_server(api_url, model.config.get("api_url"), project.relative(project.config_path(model.name)))
    credential = auth.resolve_token_for(server)
    url = server.url
    archive = _integrated_test(model, backend, False, out)
    tested = model.state.steps[INTEGRATED_TEST]
    if not tested["isolated"] and not allow_unisolated:
        raise IntegratedTestFailed(
            f"package {archive.sha256[:12]} passed the integrated test on {tested['backend']} without network "
            "isolation (this system could not cut the sandbox's network), so its network use was never checked",
            hint="run the integrated test with --backend docker, or pass --allow-unisolated",
        )
    earlier = was_uploaded([r for r in model.state.uploads if r.get("api_url") == url], archive.sha256)
    if earlier and not force:
        out(
            f"Upload skipped: this exact package was uploaded to {url} at {earlier.get('uploaded_at')} "
            f"as model {earlier.get('model_id')} (--force uploads it again, using quota)"
        )
        return earlier
    out(f"Uploading {model.name!r} ({archive.size} bytes) to {url}")
    receipt = send(url, credential.token, model.name, model.config["task"], archive.path, progress=progress,
                   root=project.root, sha256=archive.sha256, out=out)
    record = {**receipt.as_record(), "api_url": url}
    model.state.add_upload(record)
    out(f"Upload done: model id {receipt.model_id}, sha256 {receipt.sha256}, {receipt.size} bytes")
    out(f"  server record: {receipt.url}")
    out(f"  local copy:    {project.relative(receipt.local_copy)}")
    return record
