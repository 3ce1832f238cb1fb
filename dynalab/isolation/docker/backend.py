"""The Docker backend: the packaged model in an image, run with no network.

Talks to the engine through the docker SDK (never the CLI). The image is
built from ``templates/Dockerfile.template`` (see ``image.py``) and tagged
by the digest of its build context, so an unchanged package reuses it and a
handler edit rebuilds only the last layers. The container runs with
``network_mode="none"`` and the configured CPU and memory limits; the model
server and the probe both run inside it. Containers are always removed; only
this model's earlier images are ever deleted, and nothing is pruned.
"""

import io
import json
import tarfile
import tempfile
import threading
from contextlib import contextmanager

import requests

from dynalab.errors import IntegratedTestFailed
from dynalab.isolation import workspace
from dynalab.isolation.docker import image as docker_image
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
    """Builds the model's image and runs the launcher in a container without network."""

    name = "docker"

    def run(self, project_root, archive, name, config, log, out=print, examples=None):
        client = docker_client()
        settings = config["integrated_test"]["docker"]
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

        outcome = RunOutcome(self.name, rootpath=docker_image.ROOTPATH, model_dir=docker_image.MODEL_DIR)
        cpus, memory = _limits(client, settings, outcome, out)
        outcome.memory_limit = memory
        out(f"Running the packaged model in a container (no network, {cpus:g} CPUs, {memory} memory)...")
        with _container(client, tag, name, cpus, memory) as container:
            if examples is not None:
                # The image's spec sends the mock datapoints; this run sends the user's examples instead,
                # so the image stays the integrated test's.
                spec = workspace.run_spec(name, config, definition, docker_image.ROOTPATH, docker_image.MODEL_DIR, examples)
                _put_file(container, docker_image.SPEC, json.dumps(spec, indent=2).encode("utf-8"))
            container.start()
            reader = threading.Thread(target=_copy_logs, args=(container, log, outcome), daemon=True)
            reader.start()
            try:
                status = container.wait(timeout=workspace.deadline_seconds(config, definition))
                outcome.exit_code = status.get("StatusCode")
            except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):  # the run hung
                outcome.timed_out = True
                try:
                    container.kill()
                except docker_errors().APIError:
                    pass  # it stopped on its own in the meantime
                outcome.exit_code = container.wait(timeout=60).get("StatusCode")
            reader.join(10)
            container.reload()
            outcome.oom_killed = bool(container.attrs.get("State", {}).get("OOMKilled"))
        return outcome


@contextmanager
def _container(client, tag, name, cpus, memory):
    """A container of ``tag`` without network, within the limits; removed on the way out, whatever happens."""
    container = client.containers.create(
        tag,
        network_mode="none",
        nano_cpus=int(cpus * 1e9),
        mem_limit=memory,
        memswap_limit=memory,  # no swap: over the limit is an OOM kill, as in deployment
        environment=workspace.forwarded_environment(),
        labels={docker_image.LABEL: name},
        detach=True,
    )
    try:
        yield container
    finally:
        container.remove(force=True)


def _put_file(container, path, data):
    """Write ``data`` at ``path`` in the (not yet started) ``container``."""
    folder, name = path.rsplit("/", 1)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(data))
    container.put_archive(folder, archive.getvalue())


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


def _limits(client, settings, outcome, out):
    """(CPUs, memory) from the config, clamped to what the engine's machine has, with a note."""
    info = client.info()
    cpus = float(settings["cpus"])
    memory = str(settings["memory"]).lower()
    available_cpus = info.get("NCPU") or cpus
    if cpus > available_cpus:
        outcome.notes.append(f"note: the config asks for {cpus:g} CPUs; this machine has {available_cpus}, so the container gets {available_cpus}")
        out(outcome.notes[-1])
        cpus = float(available_cpus)
    total = info.get("MemTotal")
    if total and memory_bytes(memory) > total:
        clamped = f"{total // 1024**2}m"
        outcome.notes.append(f"note: the config asks for {memory} of memory; this machine has {clamped}, so the container gets {clamped}")
        out(outcome.notes[-1])
        memory = clamped
    return cpus, memory


def memory_bytes(text):
    """Bytes in a Docker memory size such as ``16g`` or ``512m`` (see ``dynalab.sizes``)."""
    try:
        return parse_size(text)
    except ValueError:
        raise IntegratedTestFailed(f"`integrated_test.docker.memory` = {text!r} is not a size",
                                   hint="use a size such as 16g or 512m") from None


def _image_exists(client, tag):
    import docker.errors

    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


