"""``GET /models/{id}`` and ``/models/{id}/log``: what an owner learns of a model after its upload."""

import re

from server_support import Api, model_archive

from dynalab.server import lifecycle
from dynalab.server.model_view import model_json

ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def test_a_new_upload_shows_its_state_its_failure_its_datasets_and_its_history(user):
    api_token, api = user
    bearer = api.bearer(api_token)
    receipt = api.upload(bearer, model_archive()).json()
    model = api.model(bearer, receipt["model_id"]).json()
    assert model == {**receipt, "failure": None, "datasets": [], "metrics": {}, "history": model["history"]}
    assert model["status"] == "queued"
    assert [(entry["status"], entry["dataset"], entry["detail"]) for entry in model["history"]] == [
        ("uploaded", None, None), ("queued", None, "received")]
    assert all(ISO_TIME.match(entry["at"]) for entry in model["history"])


def test_a_models_log_is_text_for_its_owner_only(user, shared_server):
    api_token, api = user
    bearer = api.bearer(api_token)
    model_id = api.upload(bearer, model_archive()).json()["model_id"]
    mine = api.get(f"/models/{model_id}/log", headers={"Authorization": f"Bearer {bearer}"})
    assert mine.status_code == 200 and mine.headers["content-type"].startswith("text/plain")
    assert mine.text == ""  # nothing has run: this server runs no jobs
    stranger = api.bearer(shared_server.add_user("log-stranger@example.org"))
    answer = api.get(f"/models/{model_id}/log", headers={"Authorization": f"Bearer {stranger}"})
    assert answer.status_code == 404 and answer.json()["detail"] == f"you have no uploaded model with id {model_id}"
    assert api.get(f"/models/{model_id}/log").status_code == 401
    assert Api(shared_server.url).get("/models/0/log", headers={"Authorization": f"Bearer {bearer}"}).status_code == 404


def _evaluated(parts, model_id, datasets, metrics):
    with parts.session() as session:
        model = lifecycle.lock_model(session, model_id)
        lifecycle.deploying(session, model)
        lifecycle.deployed(session, model)
        for dataset, values in zip(datasets, metrics):
            lifecycle.evaluation_started(session, model, dataset)
            lifecycle.evaluation_done(session, model, dataset, values, 250.0, 80.5)
        session.commit()


def test_the_models_metrics_are_the_weighted_mean_over_its_scoring_datasets_and_hidden_ones_show_none(parts):
    light = parts.add_dataset_row(name="light", weight=1)
    heavy = parts.add_dataset_row(name="heavy", weight=3)
    shown = parts.add_dataset_row(name="shown", access="standard")
    hidden = parts.add_dataset_row(name="secret", access="hidden")
    model_id = parts.add_model()
    _evaluated(parts, model_id, [light, heavy, shown, hidden],
               [{"accuracy": 0.2, "macro_f1": 0.1}, {"accuracy": 0.6, "macro_f1": 0.5},
                {"accuracy": 1.0, "macro_f1": 1.0}, {"accuracy": 1.0, "macro_f1": 1.0}])
    with parts.session() as session:
        view = model_json(session, parts.model(model_id))
    assert view["status"] == "evaluated"
    assert view["metrics"] == {"accuracy": (0.2 * 1 + 0.6 * 3) / 4, "macro_f1": (0.1 * 1 + 0.5 * 3) / 4}
    by_name = {entry["name"]: entry for entry in view["datasets"]}
    assert list(by_name) == ["light", "heavy", "shown", "secret"]
    assert by_name["heavy"] == {"name": "heavy", "access": "scoring", "status": "done",
                                "metrics": {"accuracy": 0.6, "macro_f1": 0.5}, "examples_per_second": 250.0,
                                "peak_memory_mb": 80.5, "worker": None}
    assert by_name["secret"] == {"name": "secret", "access": "hidden", "status": "done", "metrics": {},
                                 "examples_per_second": None, "peak_memory_mb": None, "worker": None}
    assert [(entry["status"], entry["dataset"]) for entry in view["history"] if entry["dataset"] == "heavy"] == [
        ("pending", "heavy"), ("running", "heavy"), ("done", "heavy")]


def test_no_average_is_shown_before_every_scoring_dataset_is_done_and_a_failure_is_spelled_out(parts):
    first, second = parts.add_dataset_row(name="first"), parts.add_dataset_row(name="second")
    model_id = parts.add_model()
    _evaluated(parts, model_id, [first], [{"accuracy": 0.5}])
    with parts.session() as session:
        view = model_json(session, parts.model(model_id))
        assert (view["status"], view["metrics"]) == ("evaluating", {})
        model = lifecycle.lock_model(session, model_id)
        lifecycle.fail_model(session, model, "timeout", "no answer to example 17 within 60 s",
                             "make it faster, or ask for a larger request_timeout", dataset_id=second)
        session.commit()
        view = model_json(session, parts.model(model_id))
    assert view["failure"] == {"class": "timeout", "reason": "no answer to example 17 within 60 s",
                               "hint": "make it faster, or ask for a larger request_timeout"}
    assert [(entry["name"], entry["status"]) for entry in view["datasets"]] == [("first", "done"), ("second", "failed")]
    assert view["metrics"] == {}
    assert view["history"][-1]["detail"] == "timeout: no answer to example 17 within 60 s"
