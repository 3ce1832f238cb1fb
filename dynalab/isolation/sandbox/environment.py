"""The sandbox's Python environment: two cached virtual environments, layered.

- The base layer holds what the deployment image preinstalls: torch, the same
  version as on this machine, installed from its wheel file (see
  ``wheels.torch_wheels``: never from the package index). Keyed by the Python
  and torch versions.
- The dependency layer holds what the project declares (requirements.txt,
  setup.py). It sees the base layer through a ``.pth`` file, so ``torch`` in
  requirements.txt is already satisfied. Keyed by the declared files' content,
  so a handler edit reuses both layers.

Neither sees the system site-packages: a package installed only on this
machine is missing there, as it would be in the deployment.
"""

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sysconfig
import time
import venv
from contextlib import contextmanager
from pathlib import Path

from dynalab.errors import IntegratedTestFailed
from dynalab.isolation.wheels import (WHEELHOUSE_ENV, installed_version, torch_install, torch_wheels, wheelhouse,
                                     wheelhouse_args)

COMPLETE = ".dynalab-complete"
UNUSED_DAYS = 30
RECIPE = 2  # bumped whenever a layer is built differently, so old layers are not reused
SETUP_FILES = ("setup.py", "setup.cfg", "pyproject.toml")


def cache_dir():
    """Where built environments are kept: DYNALAB_CACHE_DIR, else $XDG_CACHE_HOME/dynalab, else ~/.cache/dynalab."""
    if os.environ.get("DYNALAB_CACHE_DIR"):
        return Path(os.environ["DYNALAB_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dynalab"


class Environment:
    """A ready dependency layer (it sees the base layer through a ``.pth`` file): run its ``python``."""

    def __init__(self, deps_dir, base_dir):
        self.deps_dir = deps_dir
        self.base_dir = base_dir

    @property
    def python(self):
        return self.deps_dir / "bin" / "python"


def ensure_environment(root, config, log, out=print):
    """The environment for the unpacked project at ``root``, built (and cached) if needed."""
    torch_version = installed_version("torch")
    wheels = wheelhouse(config)
    base_key = f"py{platform.python_version()}-torch{torch_version or 'none'}-r{RECIPE}"
    base_dir = cache_dir() / "envs" / f"base-{base_key}"
    with _layer(base_dir) as build:
        if build:
            torch_files = torch_wheels(config, torch_version) if torch_version else []  # fails before any pip runs
            what = f"torch {torch_version}" if torch_version else "no torch (none is installed here)"
            out(f"Building the sandbox's base environment with {what} (cached for later runs)...")
            _create_venv(base_dir, log)
            if torch_files:
                folders = sorted({str(wheel.parent) for wheel in torch_files})
                torch_only, dependencies = torch_install(torch_version, folders)
                _pip(base_dir, torch_only, log, f"installing torch from {', '.join(folders)}",
                     hint=f"put a torch {torch_version} wheel for Python {platform.python_version()} on this platform there")
                _pip(base_dir, dependencies, log, "installing torch's dependencies",
                     hint=f"put the wheels pip names in {WHEELHOUSE_ENV}'s folder, or let pip reach its index")

    declared = _declared_files(root, config)
    digest = hashlib.sha256(base_key.encode())
    for relative, content in declared:
        digest.update(f"\0{relative}\0".encode() + content)
    deps_dir = cache_dir() / "envs" / f"deps-{digest.hexdigest()[:20]}"
    with _layer(deps_dir) as build:
        if build:
            names = ", ".join(relative for relative, _ in declared) or "nothing declared"
            out(f"Building the sandbox's dependency environment ({names}; cached for later runs)...")
            _create_venv(deps_dir, log)
            (_site_packages(deps_dir) / "_dynalab_base.pth").write_text(f"{_site_packages(base_dir)}\n")
            if config["requirements"]:
                _pip(deps_dir, ["install", "-r", str(root / "requirements.txt"), *wheelhouse_args(wheels)], log, "installing requirements.txt", cwd=root)
            if config["setup"]:
                # The build tools first, so install_project can build offline on every run;
                # then the declared dependencies (with a copy of the project, refreshed per run).
                _pip(deps_dir, ["install", "--upgrade", "setuptools", "wheel", *wheelhouse_args(wheels)], log, "installing setuptools")
                _pip(deps_dir, ["install", str(root), *wheelhouse_args(wheels)], log, "installing the project with setup.py", cwd=root)
    return Environment(deps_dir, base_dir)


def install_project(environment, root, target, log):
    """Install the current code of a ``setup: true`` project into ``target`` (put first on the path)."""
    _pip(environment.deps_dir, ["install", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(target), str(root)], log, "installing the project with setup.py", cwd=root)


def _declared_files(root, config):
    """[(relative path, content)] of the files that decide the dependency layer."""
    files = []
    if config["requirements"]:
        files.append("requirements.txt")
    if config["setup"]:
        files.extend(name for name in SETUP_FILES if (root / name).is_file() or name == "setup.py")
    declared = []
    for relative in files:
        path = root / relative
        if not path.is_file():
            field = "requirements" if relative == "requirements.txt" else "setup"
            raise IntegratedTestFailed(
                f"`{field}: true` but {relative} is not in the package",
                hint=f"add {relative} at the project root (and make sure `exclude` does not list it), or set `{field}: false`",
            )
        declared.append((relative, path.read_bytes()))
    return declared


@contextmanager
def _layer(path):
    """Yield True if the layer at ``path`` must be built; mark it complete after.

    A lock keeps two runs from building the same layer; a layer without its
    completion mark (a crash mid-build) is rebuilt from scratch.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (path / COMPLETE).exists():
            os.utime(path / COMPLETE)  # last use, for _forget_unused
            yield False
            return
        _forget_unused(path.parent)
        if path.exists():
            shutil.rmtree(path)
        try:
            yield True
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        (path / COMPLETE).write_text("built by dynalab\n")


def _forget_unused(envs):
    """Delete dependency layers unused for UNUSED_DAYS: each project edit of requirements makes one."""
    limit = time.time() - UNUSED_DAYS * 86400
    for layer in envs.glob("deps-*"):
        marker = layer / COMPLETE
        if marker.exists() and marker.stat().st_mtime < limit:
            shutil.rmtree(layer, ignore_errors=True)


def _create_venv(path, log):
    log.write(f"$ python -m venv {path}\n")
    log.flush()
    # The real interpreter, not a venv's: a layer must never see this machine's packages.
    venv.EnvBuilder(with_pip=True, symlinks=True, clear=True).create(path)


def _site_packages(env_dir):
    # Where a virtual environment made by this Python keeps its packages, as Python itself lays it out.
    scheme = "venv" if "venv" in sysconfig.get_scheme_names() else sysconfig.get_default_scheme()
    return Path(sysconfig.get_path("purelib", scheme, vars={"base": str(env_dir), "platbase": str(env_dir)}))


def _pip(env_dir, args, log, what, cwd=None, hint="check the package names and versions"):
    command = [str(env_dir / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "--no-input", *args]
    log.write("$ " + " ".join(command) + "\n")
    log.flush()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd, env=env, text=True, errors="replace")
    errors = []
    for line in process.stdout:
        log.write(line)
        if line.lower().startswith("error:"):
            errors.append(line.strip())
    log.flush()
    if process.wait() != 0:
        shown = f": {errors[-1]}" if errors else ""
        raise IntegratedTestFailed(
            f"{what} in the sandbox environment failed (pip exited with {process.returncode}){shown}",
            hint=f"{hint}; pip's output is in the log",
        )
