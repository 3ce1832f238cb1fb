"""``dynalab-cli package``: build the archive exactly as upload will send it, or reuse the last one.

The archive is ``.dynalab/<name>/build/<name>.tar.gz`` (see ``dynalab.packaging``);
an unchanged project reuses it (the step is then ``skipped`` in ``--json``).
"""

from dynalab.packaging.archive import build_archive
from dynalab.sizes import human_size
from dynalab.steps.model import unreadable_files_as_config_errors
from dynalab.steps.results import Outcome, archive_details


def run(run):
    """The step's action: the archive of ``run.model``, printed as path, size, file count and sha256."""
    model, project = run.model, run.project
    with unreadable_files_as_config_errors():
        archive = build_archive(project.root, model.name, model.config, model.archive_path, force=run.flags.force,
                                entries=model.files)
    run.out(f"Package {project.relative(archive.path)}: {human_size(archive.size)}, "
            f"{archive.file_count} files, sha256 {archive.sha256}")
    if run.flags.list:
        for path in archive.files:
            run.out(f"  {path}")
    return Outcome(details=archive_details(archive), value=archive, skipped=archive.reused)
