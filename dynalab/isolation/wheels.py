"""Where both backends' environments get their wheels: the wheelhouse, pip's find-links, torch's wheel.

torch is installed from a wheel file on this machine, never resolved from the
package index: there, for Linux x86_64, ``torch==X`` is a multi-GB CUDA build.
Its small dependencies come from wherever pip finds them (index, cache, wheelhouse).
"""

import ast
import functools
import glob
import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

from dynalab.errors import IntegratedTestFailed

WHEELHOUSE_ENV = "DYNALAB_WHEELHOUSE"
PIP_SECTIONS = (":env:", "install", "global")
"""Where pip's settings for ``pip install`` come from, first wins: its environment variables, then its config files."""


def installed_version(distribution):
    """The version of ``distribution`` installed here, or None.

    Read from its metadata, not by importing it: ``import torch`` alone costs seconds.
    """
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def wheelhouse(config):
    """The folder of wheels both backends install from, or None.

    The environment variable DYNALAB_WHEELHOUSE, when set, overrides the
    config's ``integrated_test.docker.wheelhouse``, which overrides the user's
    settings (see ``dynalab.settings``).
    """
    from dynalab.project.settings import resolve

    folder = resolve("wheelhouse", config).value
    if not folder:
        return None
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise IntegratedTestFailed(
            f"the wheelhouse {path} is not a folder",
            hint=f"set {WHEELHOUSE_ENV} or `integrated_test.docker.wheelhouse` to a folder of .whl files",
        )
    return path


def wheelhouse_args(folder):
    """``--find-links`` for the wheelhouse ``folder`` (see ``wheelhouse``), when there is one."""
    return ["--find-links", str(folder)] if folder else []


def torch_wheels(config, version):
    """The wheel files of torch ``version``: the wheelhouse's when one is set, else those in pip's find-links.

    Raises IntegratedTestFailed, naming what to set, when there is none, so
    that no pip ever goes to the index for torch.
    """
    folder = wheelhouse(config)
    folders = [str(folder)] if folder else pip_settings("find-links")
    patterns = {f"torch-{version}-*.whl", f"torch-{version.replace('+', '%2B')}-*.whl"}
    found = sorted({Path(path) for where in folders for pattern in patterns for path in glob.glob(os.path.join(where, pattern))})
    if found:
        return found
    if folder:
        looked = f"the wheelhouse {folder} ({WHEELHOUSE_ENV} or `integrated_test.docker.wheelhouse`) holds none"
    elif folders:
        looked = f"pip's find-links ({', '.join(folders)}) hold none, and no wheelhouse is set"
    else:
        looked = "no wheelhouse is set and pip has no find-links folder"
    raise IntegratedTestFailed(
        f"no wheel of torch {version} (the torch installed here) to install in the test environment: {looked}",
        hint=f"set {WHEELHOUSE_ENV} to a folder holding torch-{version}-*.whl (e.g. after "
        f"`pip download --no-deps torch=={version} -d ~/wheels`); torch is never taken from the package index, "
        "where it can be a multi-GB CUDA build",
    )


def pip_settings(key):
    """The values pip uses for its setting ``key`` (e.g. ``find-links``), as pip itself reports them.

    Taken from ``pip config list`` (environment variables, then the ``install``
    and ``global`` sections of pip's config files), so every way of configuring
    pip counts as pip counts it; ``file://`` URLs become paths.
    """
    values = []
    for section in PIP_SECTIONS:
        values.extend(_pip_config(_pip_environment()).get(f"{section}.{key}", "").split())
    paths = [value[len("file://"):] if value.startswith("file://") else value for value in values]
    return list(dict.fromkeys(paths))  # the same folder set twice is one folder


def _pip_environment():
    """What pip's answer depends on besides its files: its variables and where the user's config lives."""
    return tuple(sorted((name, value) for name, value in os.environ.items()
                        if name.startswith("PIP_") or name in ("HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "VIRTUAL_ENV")))


@functools.lru_cache(maxsize=8)
def _pip_config(environment):
    """``{"section.key": value}`` from ``python -m pip config list``, asked once per ``environment``
    (the variables that decide pip's answer; the process inherits them all)."""
    try:
        listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                                 timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}  # no pip here: no settings of pip's to honour
    settings = {}
    for line in listing.splitlines():
        name, _, quoted = line.partition("=")
        try:
            settings[name.strip()] = str(ast.literal_eval(quoted.strip()))  # pip prints each value as a Python literal
        except (ValueError, SyntaxError):
            continue
    return settings


def torch_install(version, find_links):
    """The pip commands (argument lists) that install torch ``version`` from the folders ``find_links``.

    First torch alone, with no index and no dependencies, so it can only come
    from a wheel there; then its dependencies, torch being already satisfied.
    """
    links = [arg for folder in find_links for arg in ("--find-links", str(folder))]
    return [
        ["install", "--no-index", "--no-deps", *links, f"torch=={version}"],
        ["install", *links, f"torch=={version}"],
    ]
