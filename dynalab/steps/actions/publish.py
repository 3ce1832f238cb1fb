"""``dynalab-cli publish`` and ``unpublish``: put the latest upload of a model on its task's leaderboard, or
take it off.

The server decides: it publishes only a model it has evaluated, and says why
not otherwise (``PublishRefused``). Where to and as whom are settled as for
``upload`` (``upload.destination``).
"""

from dynalab.steps.results import Outcome


def publish(run):
    return _set(run, True)


def unpublish(run):
    return _set(run, False)


def _set(run, published):
    from dynalab.client import api

    url = run.prepared.server.url
    record = api.set_published(url, run.prepared.credential.token, run.model.name, published)
    page = f"{url}/models/{record.get('model_id')}"
    if published:
        run.out(f"Published model {record.get('model_id')} ({run.model.name!r}) on the {record.get('task_code')} "
                f"leaderboard: {url}/tasks/{record.get('task_code')}")
    else:
        run.out(f"Unpublished model {record.get('model_id')} ({run.model.name!r}): it is off the leaderboard "
                "and its page is yours only")
    run.out(f"  model page: {page}")
    return Outcome(details={"model_id": record.get("model_id"), "published": record.get("published"),
                            "url": page, "api_url": url})
