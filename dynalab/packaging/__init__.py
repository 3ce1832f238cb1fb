"""The submission archive: which files (``selection``), the deterministic tar.gz (``archive_writer``),
building or reusing it (``archive``), and the deployment's size warning (``size_check``)."""

from dynalab.packaging.archive import ArchiveInfo, build_archive
from dynalab.packaging.selection import ExcludeRules, PackageFile, list_package_files, scan

__all__ = ["ArchiveInfo", "ExcludeRules", "PackageFile", "build_archive", "list_package_files", "scan"]
