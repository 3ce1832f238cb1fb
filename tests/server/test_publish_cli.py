"""`dynalab-cli publish` and `unpublish`, and the config's model card, from a project to the leaderboard."""

import json

CARD = """card:
  description: Rules over word overlap.
  paper_url: https://example.org/paper
  license: MIT
"""


def test_publish_refuses_with_the_reason_until_evaluated_then_publishes_the_latest_upload(contract_nli, cli, board):
    config = contract_nli / ".dynalab" / "m" / "config.yaml"
    config.write_text(config.read_text() + CARD)
    board.add_dataset("round1")
    env = {"DYNALAB_API_URL": board.server.url, "DYNALAB_API_TOKEN": board.server.add_user("me@example.org")}

    uploaded = cli("upload", "-n", "m", "--json", cwd=contract_nli, env=env)
    assert uploaded.returncode == 0, uploaded.stderr
    model_id = json.loads(uploaded.stdout.splitlines()[-1])["upload"]["model_id"]
    status = board.api.get(f"/models/{model_id}", headers={"Authorization": f"Bearer {board.api.bearer(env['DYNALAB_API_TOKEN'])}"}).json()
    assert status["card"] == {"description": "Rules over word overlap.", "paper_url": "https://example.org/paper",
                              "code_url": "", "license": "MIT", "anonymous": False}

    refused = cli("publish", "-n", "m", cwd=contract_nli, env=env)
    assert refused.returncode == 11
    assert f"refused to publish 'm': model {model_id} is queued, not evaluated yet" in refused.stderr
    assert "Traceback" not in refused.stderr

    board.evaluate(model_id, {"round1": ({"accuracy": 0.8, "macro_f1": 0.7}, 300.0, 120.0)})
    published = cli("publish", "-n", "m", "--json", cwd=contract_nli, env=env)
    assert published.returncode == 0, published.stderr
    result = json.loads(published.stdout)
    assert (result["step"], result["model_id"], result["published"]) == ("publish", model_id, True)
    assert result["url"] == f"{board.server.url}/models/{model_id}"
    assert [m["model_id"] for m in board.leaderboard()["models"]] == [model_id]

    unpublished = cli("unpublish", "-n", "m", cwd=contract_nli, env=env)
    assert unpublished.returncode == 0 and "Unpublished model" in unpublished.stderr + unpublished.stdout
    assert board.leaderboard()["models"] == []


def test_a_bad_card_in_the_config_is_one_line_naming_the_field(contract_nli, cli):
    config = contract_nli / ".dynalab" / "m" / "config.yaml"
    config.write_text(config.read_text() + "card:\n  paper_url: arxiv 1508.05326\n")
    result = cli("package", "-n", "m", cwd=contract_nli)
    assert result.returncode == 2
    assert "field `card.paper_url` = 'arxiv 1508.05326'" in result.stderr and "http(s) address" in result.stderr
    assert "Traceback" not in result.stderr


def test_publishing_a_model_never_uploaded_says_to_upload_it_first(contract_nli, cli, board):
    env = {"DYNALAB_API_URL": board.server.url, "DYNALAB_API_TOKEN": board.server.add_user("new@example.org")}
    result = cli("publish", "-n", "m", cwd=contract_nli, env=env)
    assert result.returncode == 2 and "has no upload of model 'm' from you" in result.stderr
    assert "dynalab-cli upload -n m" in result.stderr
