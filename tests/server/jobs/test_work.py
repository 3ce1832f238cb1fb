"""The job function on a stored archive it must not trust: checked again as at upload, before anything is unpacked.

A blob store can be written to behind the server's back (a restored backup, another process, a
disk fault): ``run_job`` runs the intake's checks on the archive again, and a refusal fails the model
as ``build`` with nothing written outside the job's scratch dir, which is removed.
"""

from server_support import config, member, tar_gz, wait_for

from dynalab.server.jobs.executor import EmbeddedExecutor
from dynalab.server.jobs.work import run_job
from dynalab.server.model_view import model_log


def test_a_stored_archive_that_escapes_its_folder_fails_the_deployment_as_build_and_writes_nothing(parts, tmp_path):
    escaped = parts.settings.data_dir / "escaped.txt"
    hostile = tar_gz(config("m"), member("handler.py", b"def handle(data, context):\n    return []\n"),
                     member("model.pt", b"w"), member("../escaped.txt", b"outside"))
    model_id = parts.add_model("m", archive=hostile)
    with EmbeddedExecutor(parts.db, parts.settings, parts.catalog, run_job, poll_seconds=0.2):
        assert wait_for(lambda: parts.model(model_id).status == "failed", 60)
    model = parts.model(model_id)
    assert model.failure_class == "build"
    assert model.failure_reason == "the stored archive is refused: member '../escaped.txt' has a '..' component"
    assert "dynalab-cli package" in model.failure_hint
    with parts.session() as session:
        assert "failed (build): the stored archive is refused" in model_log(session, model)
    assert not escaped.exists()
    assert list(parts.settings.scratch_dir.iterdir()) == []


def test_an_archive_without_the_models_config_is_refused_before_it_is_unpacked(parts):
    model_id = parts.add_model("m", archive=tar_gz(member("handler.py", b"x = 1\n"), member("model.pt", b"w")))
    with EmbeddedExecutor(parts.db, parts.settings, parts.catalog, run_job, poll_seconds=0.2):
        assert wait_for(lambda: parts.model(model_id).status == "failed", 60)
    model = parts.model(model_id)
    assert (model.failure_class, model.failure_reason.split(":")[0]) == ("build", "the stored archive is refused")
    assert ".dynalab/m/config.yaml" in model.failure_reason
    assert list(parts.settings.scratch_dir.iterdir()) == []
