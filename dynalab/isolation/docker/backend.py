"""The Docker backend: the packaged model in an image, run confined with no network.

Talks to the engine through the docker SDK (never the CLI). The image is
built from ``templates/Dockerfile.template`` (see ``image.py``) and tagged
by the digest of its build context, so an unchanged package reuses it and a
handler edit rebuilds only the last layers. The container (``container``)
runs with ``network_mode="none"``, a read-only root file system, no
capabilities, no new privileges, a pids limit, as user nobody, and the
task's CPU and memory limits; the model server and the probe both run inside it. Containers are always removed; only
this model's earlier images are ever deleted, and nothing is pruned.
"""

import json
import os
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

import requests

from dynalab.errors import IntegratedTestFailed
from dynalab.isolation import workspace
from dynalab.isolation.docker import image as docker_image
from dynalab.isolation.gpu import docker_device_requests
from dynalab.isolation.outcome import RunOutcome, copy_lines
from dynalab.sizes import parse_size


def docker_errors():
    import docker.errors  # the SDK is imported only when the docker backend runs

    return docker.errors


def docker_client():
    """A client of a reachable Docker engine; IntegratedTestFailed (one line) otherwise."""
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except Exception as error:  # the SDK raises DockerException, requests' errors, or FileNotFoundError
        reason = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise IntegratedTestFailed(
            f"Docker is not reachable ({reason}); use --backend sandbox, or start Docker",
            hint="`--backend sandbox` runs the integrated test without Docker",
        ) from None


class DockerBackend:
    """Builds the model's image and runs the launcher in a confined container."""

    name = "docker"

    def run(self, project_root, archive, name, config, log, out=print, examples=None):
        client = docker_client()
        repository = docker_image.image_repository(project_root, name)
        with tempfile.TemporaryDirectory(prefix=f"dynalab-{name}-docker-") as context:
            definition = docker_image.assemble_context(context, archive.path, name, config)
            tag = f"{repository}:{docker_image.context_digest(context, archive.sha256)}"
            if _image_exists(client, tag):
                out(f"Reusing the Docker image {tag} (nothing changed)")
            else:
                out(f"Building the Docker image {tag} from {docker_image.base_image(config)} (log in {log.name})...")
                docker_image.build(client, context, tag, name, log, out)
            docker_image.remove_old_images(client, repository, tag, log)

        limits = workspace.limits(definition)
        outcome = RunOutcome(self.name, rootpath=docker_image.ROOTPATH, model_dir=docker_image.MODEL_DIR)
        cpus, memory = clamped_limits(client, limits, outcome, out)
        outcome.memory_limit = memory
        out(f"Running the packaged model in a container (no network, read-only, {cpus:g} CPUs, {memory} memory)...")
        with tempfile.TemporaryDirectory(prefix=f"dynalab-{name}-run-") as mounted:
            volumes, command = {}, None
            if examples is not None:
                # The image's spec sends the mock datapoints; this run sends the user's examples instead
                # (bound in: the container's root file system is read-only), so the image stays the test's.
                spec = workspace.run_spec(name, config, definition, docker_image.ROOTPATH, docker_image.MODEL_DIR, examples)
                Path(mounted, "spec.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
                os.chmod(mounted, 0o755)
                volumes = {mounted: {"bind": RUN_FOLDER, "mode": "ro"}}
                command = ["/opt/venv/bin/python", f"/opt/dynalab/{workspace.LAUNCHER}",
                           *workspace.launcher_arguments(limits, f"{RUN_FOLDER}/spec.json", loopback=False)]
            with container(client, tag, name, cpus, memory, command=command, volumes=volumes) as running:
                running.start()
                reader = threading.Thread(target=_copy_logs, args=(running, log, outcome), daemon=True)
                reader.start()
                try:
                    status = running.wait(timeout=workspace.deadline_seconds(limits, definition))
                    outcome.exit_code = status.get("StatusCode")
                except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):  # the run hung
                    outcome.timed_out = True
                    try:
                        running.kill()
                    except docker_errors().APIError:
                        pass  # it stopped on its own in the meantime
                    outcome.exit_code = running.wait(timeout=60).get("StatusCode")
                reader.join(10)
                running.reload()
                outcome.oom_killed = bool(running.attrs.get("State", {}).get("OOMKilled"))
        return outcome


RUN_FOLDER = "/run/dynalab"  # a host folder bound in, when a run needs one (spec, Unix socket)
USER = "65534:65534"  # nobody: the image's files are readable, none writable
PIDS_LIMIT = 1024  # torch starts a thread per core and more; a fork bomb stops here


@contextmanager
def container(client, tag, name, cpus, memory, command=None, volumes=None, labels=None, gpu=False):
    """A confined container of ``tag``, within the limits; removed on the way out, whatever happens.

    No network, a read-only root file system (``/tmp`` a tmpfs), every
    capability dropped, no new privileges, a pids limit, a non-root user.
    """
    created = client.containers.create(
        tag,
        command=command,
        network_mode="none",
        read_only=True,
        tmpfs={"/tmp": "rw,nosuid,nodev,mode=1777"},
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        pids_limit=PIDS_LIMIT,
        user=USER,
        nano_cpus=int(cpus * 1e9),
        mem_limit=memory,
        memswap_limit=memory,  # no swap: over the limit is an OOM kill, as in deployment
        environment={**workspace.forwarded_environment(), "HOME": "/tmp", "TMPDIR": "/tmp"},
        volumes=volumes or {},
        labels={docker_image.LABEL: name, **(labels or {})},
        device_requests=docker_device_requests(gpu),  # gpu: the task needs one (its limits say so)
        detach=True,
    )
    try:
        yield created
    finally:
        created.remove(force=True)


def _copy_logs(container, log, outcome):
    """Container output, split into lines (the stream's chunks need not end at a line)."""

    def lines():
        pending = b""
        for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            yield from complete
        if pending:
            yield pending

    copy_lines(lines(), log, outcome)


def clamped_limits(client, limits, outcome, out):
    """(CPUs, memory) of the task's ``limits``, clamped to what the engine's machine has, with a note."""
    info = client.info()
    cpus = float(limits["cpus"])
    memory = limits["memory"]
    available_cpus = info.get("NCPU") or cpus
    if cpus > available_cpus:
        outcome.notes.append(f"note: the task gives {cpus:g} CPUs; this machine has {available_cpus}, so the container gets {available_cpus}")
        out(outcome.notes[-1])
        cpus = float(available_cpus)
    total = info.get("MemTotal")
    if total and parse_size(memory) > total:
        clamped = f"{total // 1024**2}m"
        outcome.notes.append(f"note: the task gives {memory} of memory; this machine has {clamped}, so the container gets {clamped}")
        out(outcome.notes[-1])
        memory = clamped
    return cpus, memory


def _image_exists(client, tag):
    import docker.errors

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


