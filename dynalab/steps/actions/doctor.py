"""``dynalab-cli doctor``: the settings in effect and where each comes from, and what
this machine can run (Docker, a network namespace for the sandbox, a torch wheel).

It only looks: nothing is built, started or written.
"""

import shutil
import zipfile

from dynalab.errors import ConfigError, DynalabError, UsageError
from dynalab.project import settings
from dynalab.steps.results import Outcome


def run(run):
    """The step's action: what ``doctor`` shows (see ``report``)."""
    return Outcome(details=report(run.project, run.flags.name, out=run.out))


def settings_lines(config=None, config_source="the model's config"):
    """One line per setting: its name, value and source (``config``: a model's config as written)."""
    return _lines(settings_rows(config, config_source))


def settings_rows(config=None, config_source="the model's config"):
    """(dotted name, value, source) of every setting (``config``: a model's config as written)."""
    from dynalab.client import api

    rows = []
    for name, setting in settings.SETTINGS.items():
        if name == "api_url":
            try:
                server = api.resolve_server(None, settings.field_value(config, setting.path), config_source)
                found = settings.Resolved(server.url, server.source)
            except UsageError as error:
                if isinstance(error, ConfigError):  # the settings file itself: the caller reports it
                    raise
                found = settings.Resolved(f"unusable: {error}", "")  # an address that is not a URL
        else:
            found = settings.resolve(name, config, config_source)
        rows.append((".".join(setting.path), found.value, found.source))
    return rows


def _lines(rows):
    width = max(len(row[0]) for row in rows)
    return [f"  {field:<{width}}  {'(none)' if value is None else value}" + (f"   ({source})" if source else "")
            for field, value, source in rows]


def report(project, name=None, out=print):
    """Print what ``doctor`` shows and return it ({"settings": {name: {value, source}}, "machine": {what: verdict}});
    raise the settings file's ConfigError, if any, at the end."""
    config, source, note = _model_config(project, name)
    problem, rows = None, []
    out("Settings in effect (first found: flag, environment variable, model config, "
        f"{settings.settings_path()}, default):")
    try:
        rows = settings_rows(config, source)
        lines = _lines(rows)
    except ConfigError as error:
        problem, lines = error, ["  (the settings file cannot be used: see the error below)"]
    for line in lines:
        out(line)
    if note:
        out(f"  {note}")
    out("")
    out("This machine:")
    machine = {"login": _login(), "torch": _torch(config, problem), "sandbox confinement": _confinement(),
               "docker": _docker(config, problem)}
    for what, verdict in machine.items():
        out(f"  {what:<20} {verdict}")
    if problem:
        raise problem
    return {"settings": {field: {"value": value, "source": source} for field, value, source in rows}, "machine": machine}


def _model_config(project, name):
    """(the model's config as written, its path, a note) — (None, label, why) without one."""
    from dynalab.project.documents import read_yaml

    label = "the model's config"
    try:
        name = project.resolve_model_name(name)
    except DynalabError:
        return None, label, ("no model config included (run from a project's root, with -n NAME "
                             "when it has several models)")
    path = project.config_path(name)
    if not path.exists():
        return None, label, f"model {name!r} has no config.yaml here: `dynalab-cli init -n {name}` writes one"
    try:
        return read_yaml(path), project.relative(path), None
    except ConfigError as error:
        return None, label, f"model config not included: {error}"


def _login():
    from dynalab.client import auth

    try:
        credential = auth.resolve_token()
    except DynalabError as error:
        return str(error)
    if credential.source == str(auth.secrets_path()):
        bound = auth.saved_api_url()
        return f"token saved in {credential.source}" + (f" for {bound}" if bound else " (for no server in particular)")
    return f"token from {credential.source}"


def _torch(config, problem):
    from dynalab.errors import IntegratedTestFailed
    from dynalab.isolation.wheels import installed_version, torch_wheels

    version = installed_version("torch")
    if not version:
        return "not installed here: the integrated test's environments get no torch"
    if problem:  # the settings file is unusable, so is the wheelhouse it may name
        return f"{version} installed; its wheel is not looked for until the settings file is fixed"
    try:
        wheels = torch_wheels(config, version)
    except IntegratedTestFailed as error:
        return f"{version} installed; {error}"
    usable = [wheel for wheel in wheels if zipfile.is_zipfile(wheel)]
    if usable:
        return f"{version} installed; wheel {usable[0]}"
    return f"{version} installed; the torch wheels found are not readable wheels: {', '.join(map(str, wheels))}"


def _confinement():
    from dynalab.isolation.sandbox.confinement import bubblewrap

    if bubblewrap():
        return "bwrap works: no network, only the package, its environment and the system's libraries"
    found = "bwrap is installed but cannot make its namespaces" if shutil.which("bwrap") else "no bwrap (Debian's bubblewrap)"
    return f"none ({found}): the sandbox runs NOT confined, with network"


def _docker(config, problem):
    from dynalab.isolation.docker import image as docker_image
    from dynalab.isolation.docker.backend import docker_client

    try:
        client = docker_client()
    except DynalabError as error:
        return f"not usable: {error}"
    try:
        version = client.version().get("Version", "?")
        if problem:
            return f"engine {version} reachable"
        image = docker_image.base_image(config or {})
        try:
            client.images.get(image)
            return f"engine {version} reachable; base image {image} is here"
        except Exception:  # ImageNotFound, or an engine error: either way it cannot be used as is
            return (f"engine {version} reachable; base image {image} is NOT here (no registry may be reachable): "
                    "build or pull it, or set `integrated_test.docker.base_image` in "
                    f"{settings.settings_path()} to a local image")
    finally:
        client.close()
