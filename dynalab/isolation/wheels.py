"""Where both backends' environments get their wheels: the wheelhouse, pip's find-links, torch's wheel.

torch is installed from a wheel file on this machine, never resolved from the
package index: there, for Linux x86_64, ``torch==X`` is a multi-GB CUDA build.
Its small dependencies come from wherever pip finds them (index, cache, wheelhouse).
"""

import configparser
import glob
import os
from pathlib import Path

from dynalab.errors import IntegratedTestFailed

WHEELHOUSE_ENV = "DYNALAB_WHEELHOUSE"


def wheelhouse(config):
    """The folder of wheels both backends install from, or None.

    The environment variable DYNALAB_WHEELHOUSE, when set, overrides the
    config's ``integrated_test.docker.wheelhouse``, which overrides the user's
    settings (see ``dynalab.settings``).
    """
    from dynalab.settings import resolve

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
    folders = [str(folder)] if folder else pip_settings("find-links", env="PIP_FIND_LINKS")
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


def pip_settings(key, env):
    """Values of a pip setting from the environment and pip's config files (first wins).

    As for pip, PIP_CONFIG_FILE set to os.devnull means no config file at all.
    """
    values = os.environ.get(env, "").split()
    files = ["/etc/pip.conf", "/etc/xdg/pip/pip.conf", os.path.expanduser("~/.pip/pip.conf"),
             os.path.expanduser("~/.config/pip/pip.conf"), os.environ.get("PIP_CONFIG_FILE", "")]
    if os.environ.get("PIP_CONFIG_FILE") == os.devnull:
        files = []
    parser = configparser.ConfigParser()
    parser.read([path for path in files if path and os.path.isfile(path)])
    for section in ("install", "global"):
        if parser.has_option(section, key):
            values.extend(parser.get(section, key).split())
    return [value[len("file://"):] if value.startswith("file://") else value for value in values]


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
