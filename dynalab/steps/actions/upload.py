"""``dynalab-cli upload``: send the tested package to the evaluation server.

Where to and as whom are settled first (``destination``, before the tests
run: a missing token should not wait for them). The package must have passed
the integrated test, with the network cut unless ``--allow-unisolated``; the
same package already sent to the same server is not sent again unless
``--force`` (quota is not spent by accident). The streaming, the retries and
the receipt are ``dynalab.client.upload``'s. ``--wait`` then follows the model
on the server as ``status --wait`` does.
"""

from types import SimpleNamespace

from dynalab.errors import DynalabError, IntegratedTestFailed, UsageError
from dynalab.steps.results import Outcome, archive_details


def destination(run):
    """The step's ``prepare``: the server (``api.Server``) and the credential to send it."""
    from dynalab.client import api, auth

    model = run.model
    server = api.resolve_server(run.flags.api_url, model.config.get("api_url"), model.source)
    return SimpleNamespace(server=server, credential=auth.resolve_token_for(server))


def waiting_destination(run):
    """The ``prepare`` of the steps that take --wait (upload, status): their flags checked, then ``destination``."""
    check_wait_flags(run.flags)
    return destination(run)


def check_wait_flags(flags):
    """``--timeout`` is a number of seconds above 0, and only with ``--wait``."""
    if flags.timeout is not None and not flags.wait:
        raise UsageError("--timeout bounds --wait: give both", hint="e.g. --wait --timeout 600")
    if flags.timeout is not None and flags.timeout <= 0:
        raise UsageError(f"--timeout {flags.timeout:g}: must be a number of seconds above 0")


def run(run):
    """The step's action: the upload of the package that passed the integrated test."""
    from dynalab.client.upload import upload as send, was_uploaded

    model, flags, url = run.model, run.flags, run.prepared.server.url
    archive, tested = run.result("package").value, run.result("integrated_test").details
    if not tested["isolated"] and not flags.allow_unisolated:
        raise IntegratedTestFailed(
            f"package {archive.sha256[:12]} passed the integrated test on {tested['backend']} without network "
            "isolation (this system could not cut the sandbox's network), so its network use was never checked",
            hint="run the integrated test with --backend docker, or pass --allow-unisolated",
        )
    earlier = was_uploaded([r for r in model.state.uploads if r.get("api_url") == url], archive.sha256)
    if earlier and not flags.force:
        run.out(
            f"Upload skipped: this exact package was uploaded to {url} at {earlier.get('uploaded_at')} "
            f"as model {earlier.get('model_id')} (--force uploads it again, using quota)"
        )
        return _waited(run, Outcome(details={**archive_details(archive), "upload": _upload_details(earlier)},
                                    skipped=True))
    run.out(f"Uploading {model.name!r} ({archive.size} bytes) to {url}")
    receipt = send(url, run.prepared.credential.token, model.name, model.config["task"], archive.path,
                   progress=not flags.no_progress, root=model.project.root, sha256=archive.sha256, out=run.out,
                   card=model.config.get("card"))
    record = {**receipt.as_record(), "api_url": url}
    model.state.add_upload(record)
    run.out(f"Upload done: model id {receipt.model_id}, sha256 {receipt.sha256}, {receipt.size} bytes")
    run.out(f"  model page:    {receipt.url} (its status and scores; publish it from there)")
    run.out(f"  local copy:    {model.project.relative(receipt.local_copy)}")
    return _waited(run, Outcome(details={**archive_details(archive), "upload": _upload_details(record)}))


def _waited(run, outcome):
    """``outcome``, with ``--wait``: once the model uploaded is evaluated, its status as ``evaluation``.

    A failure on the server raises as ``status --wait`` does, the upload's details kept.
    """
    from dynalab.steps.actions.status import follow

    if not run.flags.wait:
        return outcome
    try:
        outcome.details["evaluation"] = follow(run, outcome.details["upload"]["model_id"], wait=True,
                                               timeout=run.flags.timeout)
    except DynalabError as error:
        error.details = {**outcome.details, "evaluation": getattr(error, "details", None)}
        raise
    return outcome


def _upload_details(record):
    """The ``upload`` object of the JSON output, from a receipt record of state.yaml."""
    return {key: record.get(key) for key in ("model_id", "url", "api_url", "sha256", "size", "uploaded_at", "local_copy")}
