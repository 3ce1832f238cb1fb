"""The Docker backend's image: its build context, Dockerfile, build and tags.

The context holds the unpacked package (``code/``; the model dir is laid out
from it inside the image, so big checkpoints are not sent twice), Dynalab's runtime, the declared requirements, a
wheelhouse (the machine's torch wheel, see ``wheels.torch_wheels``: torch is
never resolved from the index, where it is a multi-GB CUDA build) and, when pip
on this machine trusts an extra certificate authority (a TLS-inspecting
proxy), that certificate, so pip inside the build can reach the index too.
"""

import hashlib
import importlib.resources
import json
import os
import shutil
import string
from pathlib import Path

from dynalab.errors import IntegratedTestFailed
from dynalab.isolation import workspace
from dynalab.isolation.wheels import installed_version, pip_settings, torch_install, torch_wheels, wheelhouse
from dynalab.project import settings

DEFAULT_BASE_IMAGE = settings.SETTINGS["base_image"].default
ROOTPATH = "/home/model-server/code"
MODEL_DIR = "/home/model-server/model"
SPEC = "/opt/dynalab/spec.json"
WHEELHOUSE = "/opt/wheelhouse"  # where the Dockerfile copies the context's wheelhouse/
LABEL = "org.dynalab.model"
SERVE_REPOSITORY = "dynalab-serve/model"  # images of models served for evaluation, removed after each run
ENVIRONMENT_REPOSITORY = "dynalab-env/layers"  # their environment layers (base, torch, requirements), kept as a cache
CODE_STEP = "COPY code/"  # the first step of the Dockerfile after the environment's
PREPARE = (
    "import json, sys; from dynalab.runtime.model_dir import prepare_model_dir; "
    "prepare_model_dir(*json.loads(sys.argv[1]), mode='copy')"
)


def base_image(config):
    """DYNALAB_DOCKER_BASE_IMAGE, else the config's ``integrated_test.docker.base_image``, else
    the user's settings, else the default (see ``dynalab.settings``)."""
    return settings.resolve("base_image", config).value


def image_repository(project_root, name):
    """Our images of one model of one project: ``dynalab-test/<name>-<hash of the root>``."""
    digest = hashlib.sha256(str(Path(project_root).resolve()).encode()).hexdigest()[:8]
    return f"dynalab-test/{name}-{digest}"


def assemble_context(context, package, name, config, definition=None):
    """Fill the folder ``context`` for the build; returns the task definition.

    ``package`` is the archive's path, or a folder holding it unpacked;
    ``definition`` is the task's, else the one shipped in the package.
    """
    context = Path(context)
    code = context / "code"
    if Path(package).is_dir():
        shutil.copytree(package, code, symlinks=True)
    else:
        workspace.unpack_archive(package, code)
    workspace.check_model(code, config)  # fails early, naming the file; the image lays the model dir out
    if definition is None:
        definition = workspace.task_definition(code, config)
    limits = workspace.limits(definition)
    workspace.write_run_spec(context / "spec.json", name, config, definition, ROOTPATH, MODEL_DIR)
    workspace.copy_runtime(context / "runtime")
    torch_version = installed_version("torch")
    _fill_wheelhouse(context / "wheelhouse", config, torch_version)
    (context / "deps").mkdir()
    find_links = f"--find-links {WHEELHOUSE}"
    install_requirements = "true  # no requirements.txt declared"
    if config["requirements"]:
        if not (code / "requirements.txt").is_file():
            raise IntegratedTestFailed(
                "`requirements: true` but requirements.txt is not in the package",
                hint="add requirements.txt at the project root (and make sure `exclude` does not list it), or set `requirements: false`",
            )
        shutil.copy2(code / "requirements.txt", context / "deps" / "requirements.txt")
        install_requirements = f"pip install {find_links} -r /opt/deps/requirements.txt"
    certificate = _pip_certificate()
    pip_certificate = ""
    if certificate:
        (context / "certs").mkdir()
        shutil.copy2(certificate, context / "certs" / "pip-ca.pem")
        pip_certificate = "COPY certs/ /opt/certs/\nENV PIP_CERT=/opt/certs/pip-ca.pem\n"
    command = ["/opt/venv/bin/python", f"/opt/dynalab/{workspace.LAUNCHER}", *workspace.launcher_arguments(limits, SPEC, loopback=False)]
    template = importlib.resources.files("dynalab.templates").joinpath("Dockerfile.template").read_text(encoding="utf-8")
    dockerfile = string.Template(template).substitute(
        base_image=base_image(config),
        pip_certificate=pip_certificate,
        install_torch=" && ".join(" ".join(["pip", *args]) for args in torch_install(torch_version, [WHEELHOUSE]))
        if torch_version else "true  # no torch on this machine",
        install_requirements=install_requirements,
        install_setup=f"pip install {find_links} -e {ROOTPATH}" if config["setup"] else "true  # no setup.py declared",
        prepare_model_dir=json.dumps(["/opt/venv/bin/python", "-c", PREPARE, json.dumps(
            [MODEL_DIR, ROOTPATH, config["handler"], config["checkpoint"], config["model_files"]]
        )]),
        command=json.dumps(command),
    )
    (context / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    return definition


def context_digest(context, archive_sha256):
    """A digest of the build context, to tag the image with.

    The package counts by its sha256 (its unpacked files all have mtime 0, so
    their stat says nothing); other big files (wheels) by size and mtime.
    """
    digest = hashlib.sha256(archive_sha256.encode())
    for path in sorted(Path(context).rglob("*")):
        relative = path.relative_to(context).as_posix()
        if not path.is_file() or relative.startswith("code/"):
            continue
        stat = path.stat()
        digest.update(relative.encode() + b"\0")
        if stat.st_size > 1 << 20:
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
        else:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def folder_digest(folder):
    """A digest of the files under ``folder`` (names and contents), for a package given unpacked."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            with open(path, "rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def build(client, context, tag, name, log, out, keep_environment=False):
    """Build ``tag`` from ``context``, streaming the log; raise naming the failing step.

    ``keep_environment``: tag the last layer before the package's code
    (``ENVIRONMENT_REPOSITORY``), so removing ``tag`` keeps the layers with
    torch and the requirements for the next model that declares the same.
    """
    step, step_lines, layer = "the first step", [], None
    stream = client.api.build(
        path=str(context), tag=tag, rm=True, forcerm=True, pull=False, decode=True, labels={LABEL: name}
    )
    for chunk in stream:
        text = chunk.get("stream") or chunk.get("status") or ""
        if text:
            log.write(text if text.endswith("\n") else text + "\n")
            log.flush()
            for line in text.splitlines():
                if line.startswith("Step "):
                    if keep_environment and CODE_STEP in line and layer:
                        client.images.get(layer).tag(ENVIRONMENT_REPOSITORY, layer.replace("sha256:", "")[:16])
                    step, step_lines = line, []
                elif line.startswith(" ---> ") and len(line.split()) == 2:
                    layer = line.split()[1]  # the image of the step just done
                elif line.strip():
                    step_lines.append(line.rstrip())
        if "error" in chunk:
            log.write(f"ERROR: {chunk['error']}\n")
            log.flush()
            for line in step_lines[-8:]:
                out(f"  | {line}")
            raise IntegratedTestFailed(
                f"the Docker image build failed at {step}: {chunk['error'].strip()}",
                hint=_build_hint(step),
            )


def remove_old_images(client, repository, keep_tag, log):
    """Remove earlier images of this model (ours, by repository and label); never anything else."""
    for image in client.images.list(name=repository, filters={"label": LABEL}):
        for tag in image.tags:
            if tag.startswith(repository + ":") and tag != keep_tag:
                try:
                    client.images.remove(tag)
                    log.write(f"removed the old image {tag}\n")
                except Exception as error:  # still used by a container, or gone meanwhile: keep going
                    log.write(f"could not remove the old image {tag}: {error}\n")


def _build_hint(step):
    if "torch" in step:
        return (
            "the torch wheel must come from a wheelhouse: set DYNALAB_WHEELHOUSE (or `integrated_test.docker.wheelhouse`) "
            "to a folder holding it; the build log shows the pip error"
        )
    if "requirements" in step:
        return "check the package names and versions in requirements.txt; the build log shows the pip error"
    if step.startswith("Step 1/"):
        return ("the base image could not be found: build or pull it, or name a local image in "
                "`integrated_test.docker.base_image` of ~/.dynalab/settings.yaml (or DYNALAB_DOCKER_BASE_IMAGE); "
                "`dynalab-cli doctor` shows the one in use")
    return "the build log shows the failing command's output"


def _fill_wheelhouse(target, config, torch_version):
    """The wheelhouse's wheels (``wheels.wheelhouse``), or else this machine's torch wheel found in pip's find-links.

    Fails, naming what to set, when neither holds a torch wheel of this machine's version.
    """
    target.mkdir()
    folder = wheelhouse(config)
    torch_files = torch_wheels(config, torch_version) if torch_version else []
    wheels = sorted(folder.glob("*.whl")) + sorted(folder.glob("*.tar.gz")) if folder else torch_files
    for wheel in wheels:
        _link_or_copy(wheel, target / wheel.name)


def _pip_certificate():
    for value in pip_settings("cert"):
        if os.path.isfile(value):
            return value
    return None


def _link_or_copy(source, target):
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
