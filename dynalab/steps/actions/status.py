"""``dynalab-cli status``: what the evaluation server says of the model's latest upload; ``--wait`` follows it.

The upload is the latest one ``upload`` recorded in state.yaml for the
server in effect (found as ``upload`` finds it, with the same token). The
server's answer and the following are ``dynalab.client.status``'s; ``upload
--wait`` follows its upload with ``follow`` below, so both wait the same way.
"""

from dynalab.errors import UsageError
from dynalab.steps.results import Outcome


def run(run):
    """The step's action: the model's state, per dataset progress and scores (``--wait``: once final)."""
    model, url = run.model, run.prepared.server.url
    record = _latest_upload(model, url)
    details = follow(run, record["model_id"], wait=run.flags.wait, timeout=run.flags.timeout, log=run.flags.log)
    return Outcome(details=details)


def follow(run, model_id, wait=False, timeout=None, log=False):
    """The ``status --json`` object of model ``model_id``; with ``wait``, once it is evaluated.

    Says each state on the way; raises ``EvaluationFailed`` / ``EvaluationTimedOut``
    (their ``details`` the object) when it failed / was not done in ``timeout`` seconds.
    """
    from dynalab.client import api
    from dynalab.client import status as server_status

    url, token = run.prepared.server.url, run.prepared.credential.token
    with api.own_session() as session:
        watch = server_status.Watch(url, token, model_id, session)
        try:
            if wait:
                run.out(f"Waiting for model {model_id} on {url} to be evaluated"
                        + (f" (at most {timeout:g} s)" if timeout else "") + "...")
                current = watch.follow(timeout, on_change=lambda now: _say(run, server_status.describe(now)))
            else:
                current = watch.status()
                _say(run, server_status.describe(current))
        except Exception as error:
            if log and getattr(error, "details", None):
                error.details = {**error.details, "log": _log(run, watch)}
            raise
        if log:
            current = {**current, "log": _log(run, watch)}
    return current


def _log(run, watch):
    text = watch.log()
    run.out("--- log of the model's jobs on the server ---")
    for line in text.splitlines() or ["(empty)"]:
        run.out(line)
    run.out("--- end of log ---")
    return text


def _say(run, lines):
    for line in lines:
        run.out(line)


def _latest_upload(model, url):
    records = [record for record in model.state.uploads if record.get("model_id") is not None]
    here = [record for record in records if record.get("api_url") == url]
    if here:
        return here[-1]
    elsewhere = sorted({record.get("api_url") for record in records if record.get("api_url")})
    if elsewhere:
        raise UsageError(f"model {model.name!r} was never uploaded to {url} (it was to {', '.join(elsewhere)})",
                         hint=f"pass --api-url {elsewhere[-1]} to ask that server")
    raise UsageError(f"model {model.name!r} has no upload recorded in {model.state.path}",
                     hint=f"upload it first: dynalab-cli upload -n {model.name}")
