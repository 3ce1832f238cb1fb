"""Publishing and the leaderboard, over HTTP on a real server: who sees what, in which order, with which Dynascore."""

import csv
import io

import pytest

from dynalab.server.evaluation import dynascore as ds

FAST = ({"accuracy": 0.70, "macro_f1": 0.68}, 900.0, 300.0)  # worse, but quick
GOOD = ({"accuracy": 0.90, "macro_f1": 0.89}, 100.0, 300.0)  # better, but slow


def test_only_published_models_are_on_the_leaderboard_with_their_dynascore(board):
    board.add_dataset("round1")
    board.add_dataset("round2", weight=1)
    board.add_dataset("extra", access="standard")
    alice = board.user("alice@example.org")
    shown = board.upload(alice, "shown")["model_id"]
    kept = board.upload(alice, "kept")["model_id"]
    for model_id in (shown, kept):
        board.evaluate(model_id, {"round1": GOOD, "round2": FAST, "extra": GOOD})

    answer = board.put(alice, f"/models/{shown}/publish")
    assert answer.status_code == 200 and answer.json()["published"] is True

    data = board.leaderboard()
    assert data["task"] == "nli" and data["weights"] == ds.default_weights("accuracy", ["macro_f1"])
    assert [(m["model_id"], m["name"], m["owner"], m["rank"]) for m in data["models"]] == [(shown, "shown", "alice", 1)]
    [entry] = data["models"]
    assert entry["dynascore"] is not None and entry["scores"] == "complete"
    # Averages are over the scoring datasets, weighted 5 and 1; the standard dataset is not among them.
    assert entry["metrics"]["accuracy"] == pytest.approx((0.90 * 5 + 0.70 * 1) / 6)
    assert entry["examples_per_second"] == pytest.approx((100 * 5 + 900 * 1) / 6)
    assert [d["name"] for d in entry["datasets"]] == ["round1", "round2"]
    assert entry["datasets"][0]["metrics"] == GOOD[0]

    page = board.api.get("/tasks/nli", headers={"Accept": "text/html"}).text
    assert f'href="../models/{shown}">shown</a>' in page and ">kept<" not in page, page[page.find("<tbody"):][:1500]
    model = board.api.get(f"/models/{shown}", headers={"Accept": "text/html"}).text
    assert "round1" in model and "0.9" in model and "extra" in model  # its scores per dataset


def test_moving_weight_from_accuracy_to_throughput_swaps_the_order(board):
    board.add_dataset("round1")
    owner = board.user("owner@example.org")
    fast, good = board.upload(owner, "fast")["model_id"], board.upload(owner, "good")["model_id"]
    board.evaluate(fast, {"round1": FAST})
    board.evaluate(good, {"round1": GOOD})
    for model_id in (fast, good):
        assert board.put(owner, f"/models/{model_id}/publish").status_code == 200

    by_default = board.leaderboard()
    assert [m["name"] for m in by_default["models"]] == ["good", "fast"]
    speed = board.leaderboard(weights="accuracy:1,macro_f1:0,examples_per_second:5,peak_memory_mb:0")
    assert speed["weights"]["examples_per_second"] == 5
    assert [m["name"] for m in speed["models"]] == ["fast", "good"]
    assert [m["rank"] for m in speed["models"]] == [1, 2]

    page = board.api.get("/tasks/nli", params={"weights": "accuracy:1,macro_f1:0,examples_per_second:5,peak_memory_mb:0"}).text
    assert page.index(">fast</a>") < page.index(">good</a>")
    # The page's form sends one field per weight, and is sent on to the one address of that view.
    form = board.api.get("/tasks/nli", params={"w.accuracy": "1", "w.examples_per_second": "5", "w.macro_f1": "0",
                                               "w.peak_memory_mb": "0"}, allow_redirects=False)
    assert form.status_code == 303 and "weights=accuracy%3A1%2Cexamples_per_second%3A5" in form.headers["location"]


def test_a_model_missing_a_score_is_shown_pending_or_failed_never_dropped(board):
    board.add_dataset("round1")
    board.add_dataset("round2")
    owner = board.user("owner@example.org")
    complete, waiting, broken = (board.upload(owner, name)["model_id"] for name in ("complete", "waiting", "broken"))
    board.evaluate(complete, {"round1": GOOD, "round2": GOOD})
    board.evaluate(waiting, {"round1": FAST, "round2": FAST})
    board.evaluate(broken, {"round1": FAST, "round2": FAST})
    for model_id in (complete, waiting, broken):
        assert board.put(owner, f"/models/{model_id}/publish").status_code == 200
    # A new dataset sends the published models back to evaluating: they stay published.
    board.add_dataset("round3")
    board.evaluate(complete, {"round3": GOOD})
    board.evaluate(broken, {"round3": "failed"})

    models = {m["name"]: m for m in board.leaderboard()["models"]}
    assert list(models) == ["complete", "waiting", "broken"]
    assert (models["complete"]["scores"], models["complete"]["rank"]) == ("complete", 1)
    assert (models["waiting"]["scores"], models["waiting"]["dynascore"], models["waiting"]["rank"]) == ("pending", None, None)
    assert models["broken"]["scores"] == "failed" and models["broken"]["datasets"][2]["status"] == "failed"

    table = board.api.get("/tasks/nli", params={"sort": "dataset:round3", "order": "desc"}).text
    body = table[table.index("<tbody>"):]
    assert body.index(">complete</a>") < body.index(">waiting</a>") < body.index(">broken</a>")
    assert '<td class="num state pending">pending</td>' in body and '<td class="num state failed">failed</td>' in body

    rows = list(csv.reader(io.StringIO(board.api.get("/tasks/nli/leaderboard.csv").text)))
    assert rows[0][:4] == ["model_id", "Rank", "Model", "Owner"] and len(rows) == 4
    assert [row[2] for row in rows[1:]] == ["complete", "waiting", "broken"]
    assert "pending" in rows[2] and "failed" in rows[3]


def test_sorting_by_a_column_orders_by_that_column_and_missing_values_stay_last(board):
    board.add_dataset("round1")
    owner = board.user("owner@example.org")
    ids = {}
    for name, score in (("b-mid", ({"accuracy": 0.8, "macro_f1": 0.8}, 500.0, 100.0)),
                        ("a-slow", ({"accuracy": 0.9, "macro_f1": 0.9}, 50.0, 900.0)),
                        ("c-quick", ({"accuracy": 0.6, "macro_f1": 0.6}, 2000.0, 50.0)),
                        ("d-none", None)):
        ids[name] = board.upload(owner, name)["model_id"]
        board.evaluate(ids[name], {"round1": score} if score else {})
    for name in ("b-mid", "a-slow", "c-quick"):
        board.put(owner, f"/models/{ids[name]}/publish")
    assert board.put(owner, f"/models/{ids['d-none']}/publish").status_code == 409

    def names(**params):
        return [m["name"] for m in board.leaderboard(**params)["models"]]

    assert names(sort="examples_per_second") == ["c-quick", "b-mid", "a-slow"]  # fastest first
    assert names(sort="examples_per_second", order="asc") == ["a-slow", "b-mid", "c-quick"]
    assert names(sort="peak_memory_mb") == ["c-quick", "b-mid", "a-slow"]  # least memory first
    assert names(sort="model") == ["a-slow", "b-mid", "c-quick"]
    assert names(sort="dataset:round1") == ["a-slow", "b-mid", "c-quick"]
    bad = board.api.get("/tasks/nli/leaderboard", params={"sort": "speed"})
    assert bad.status_code == 400 and "'speed' is not a column" in bad.json()["detail"]
    assert board.api.get("/tasks/nli/leaderboard", params={"weights": "accuracy:-1"}).status_code == 400
    assert board.api.get("/tasks/nli/leaderboard", params={"weights": "speed:1"}).status_code == 400
    assert board.api.get("/tasks/nope/leaderboard").status_code == 404


def test_publishing_is_the_owners_and_refused_with_the_reason_until_the_model_is_evaluated(board):
    board.add_dataset("round1")
    owner, stranger = board.user("owner@example.org"), board.user("stranger@example.org")
    model_id = board.upload(owner, "m")["model_id"]
    refused = board.put(owner, f"/models/{model_id}/publish")
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith(f"model {model_id} is queued, not evaluated yet")
    assert board.put(stranger, f"/models/{model_id}/publish").status_code == 404
    assert board.api.http.put(board.api.url + f"/models/{model_id}/publish", timeout=30).status_code == 401

    # Unpublished: its owner's alone, as JSON and as a page.
    assert board.api.get(f"/models/{model_id}").status_code == 401
    assert board.api.get(f"/models/{model_id}", headers={"Accept": "text/html"}).status_code == 404
    board.evaluate(model_id, {"round1": GOOD})
    assert board.put(owner, f"/models/{model_id}/publish").json()["published"] is True
    # Published: anyone's.
    public = board.api.get(f"/models/{model_id}")
    assert public.status_code == 200 and public.json()["status"] == "evaluated"
    page = board.api.get(f"/models/{model_id}", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Unpublish" not in page.text  # the owner's button is not for anyone

    assert board.put(owner, f"/models/{model_id}/unpublish").json()["published"] is False
    assert board.leaderboard()["models"] == []
    assert board.api.get(f"/models/{model_id}").status_code == 401


def test_the_card_sent_with_the_upload_is_validated_and_shown(board):
    owner = board.user("owner@example.org")
    card = {"description": "A bag of words.\n\nTrained on SNLI.", "paper_url": "https://arxiv.org/abs/1508.05326",
            "code_url": "https://example.org/code", "license": "MIT", "anonymous": True}
    receipt = board.upload(owner, "carded", card=card)
    assert receipt["card"] == card and receipt["published"] is False
    bad = board.api.http.post(board.api.url + "/models/upload/s3", headers={"Authorization": f"Bearer {owner}"},
                              data={"name": "bad", "taskCode": "nli", "card": '{"paper_url": "ftp://x"}'},
                              files={"tarball": ("bad.tar.gz", b"not read", "application/gzip")}, timeout=30)
    assert bad.status_code == 400 and "paper_url" in bad.json()["detail"] and "ftp://x" in bad.json()["detail"]
    board.evaluate(receipt["model_id"], {})
    board.put(owner, f"/models/{receipt['model_id']}/publish")
    page = board.api.get(f"/models/{receipt['model_id']}", headers={"Accept": "text/html"}).text
    assert "<p>Trained on SNLI.</p>" in page and 'href="https://arxiv.org/abs/1508.05326"' in page
    assert "owner" not in board.leaderboard()["models"][0]["owner"]  # anonymous
    assert board.leaderboard()["models"][0]["owner"] == "anonymous"


def test_the_tasks_page_counts_published_models_and_datasets(board):
    board.add_dataset("round1")
    board.add_dataset("secret", access="hidden")
    owner = board.user("owner@example.org")
    model_id = board.upload(owner, "m")["model_id"]
    board.evaluate(model_id, {"round1": GOOD, "secret": GOOD})
    board.put(owner, f"/models/{model_id}/publish")
    home = board.api.get("/").text
    nli = home[home.index('href="tasks/nli"'):]
    assert "<strong>1</strong> published model ·" in " ".join(nli[:600].split())
    assert "<strong>1</strong> dataset" in nli[:600]
    task = board.api.get("/tasks/nli").text
    assert "round1" in task and "secret" not in task


def test_a_long_leaderboard_is_shown_in_pages_and_downloaded_whole(board):
    owner = board.user("owner@example.org")
    for number in range(101):
        model_id = board.upload(owner, f"m{number:03}")["model_id"]
        board.evaluate(model_id, {})  # a task without datasets: evaluated at once
        assert board.put(owner, f"/models/{model_id}/publish").status_code == 200
    first = board.api.get("/tasks/nli", params={"sort": "model"}).text
    assert ">m000</a>" in first and ">m099</a>" in first and ">m100</a>" not in first
    assert "101 published models (here 1 to 100)" in " ".join(first.split())
    second = board.api.get("/tasks/nli", params={"sort": "model", "page": "2"}).text
    assert ">m100</a>" in second and ">m099</a>" not in second
    assert len(board.leaderboard(sort="model")["models"]) == 101
    assert len(board.api.get("/tasks/nli/leaderboard.csv").text.splitlines()) == 102


@pytest.mark.parametrize("parts", ["sqlite", "postgresql"], indirect=True)
def test_the_board_reads_the_same_from_sqlite_and_postgresql(parts):
    from dynalab.server import leaderboard, lifecycle, publishing

    round1 = parts.add_dataset_row(name="round1")
    ids = [parts.add_model(name=name) for name in ("fast", "good", "hidden")]
    with parts.session() as session:
        for model_id, score in zip(ids, (FAST, GOOD, GOOD)):
            model = lifecycle.lock_model(session, model_id)
            lifecycle.deploying(session, model)
            lifecycle.deployed(session, model)
            lifecycle.evaluation_done(session, model, round1, *score)
            if model.name != "hidden":
                publishing.publish(model)
        session.commit()
    with parts.session() as session:
        result = leaderboard.board(session, parts.catalog, "nli", "accuracy:0,examples_per_second:1")
    assert [(row.name, row.rank) for row in result.rows] == [("fast", 1), ("good", 2)]
    assert result.as_json()["models"][0]["datasets"] == [
        {"name": "round1", "status": "done", "metrics": FAST[0], "examples_per_second": 900.0,
         "peak_memory_mb": 300.0}]


def test_the_pages_forms_need_the_owners_session_and_its_csrf_token(board):
    from server_support import Browser

    board.add_dataset("round1")
    owner = board.user("owner@example.org", password="a long password")
    board.user("other@example.org", password="another password")
    model_id = board.upload(owner, "m")["model_id"]
    board.evaluate(model_id, {"round1": GOOD})
    browser = Browser(board.server.url, headers={"Accept": "text/html"})
    assert browser.sign_in("owner@example.org", "a long password").status_code == 200
    page = browser.http.get(f"{board.server.url}/models/{model_id}", timeout=30)
    csrf = Browser.CSRF.search(page.text).group(1)

    forged = browser.http.post(f"{board.server.url}/models/{model_id}/publish", data={"csrf_token": "forged"},
                               allow_redirects=False, timeout=30)
    assert forged.status_code == 403 and board.leaderboard()["models"] == []
    stranger = Browser(board.server.url)
    stranger.sign_in("other@example.org", "another password")
    assert stranger.http.post(f"{board.server.url}/models/{model_id}/publish", data={"csrf_token": stranger.csrf},
                              allow_redirects=False, timeout=30).status_code == 404
    done = browser.http.post(f"{board.server.url}/models/{model_id}/publish", data={"csrf_token": csrf},
                             allow_redirects=False, timeout=30)
    assert done.status_code == 303 and done.headers["location"] == f"../{model_id}?done=published"
    assert [(m["model_id"], m["owner"]) for m in board.leaderboard()["models"]] == [(model_id, "owner")]

    edited = browser.http.post(f"{board.server.url}/models/{model_id}/card", timeout=30, allow_redirects=False,
                               data={"csrf_token": csrf, "description": "New words.", "license": "MIT",
                                     "anonymous": "yes"})
    assert edited.status_code == 303
    # Still published, and the board shown before the edit is not served again.
    assert [(m["model_id"], m["owner"]) for m in board.leaderboard()["models"]] == [(model_id, "anonymous")]
    too_long = browser.http.post(f"{board.server.url}/models/{model_id}/card", timeout=30,
                                 data={"csrf_token": csrf, "description": "x" * 5001})
    assert too_long.status_code == 400 and "at most 5000 characters" in too_long.text
