"""Health, the task list, and tokens: the calls the client makes before an upload."""

import socket
import time

import yaml

from server_support import Api, model_archive, read_answer


def test_health_names_the_upload_limit(shared_server):
    body = Api(shared_server.url).get("/health").json()
    assert body["status"] == "ok" and body["max_upload_bytes"] > 0


def test_the_task_list_has_the_builtin_tasks_with_their_config_and_quota(shared_server):
    tasks = {t["task_code"]: t for t in Api(shared_server.url).get("/tasks/submitable").json()}
    assert {"nli", "qa", "sentiment", "hs", "vqa"} <= set(tasks)
    nli = tasks["nli"]
    assert (nli["dynalab_threshold"], nli["dynalab_hr_diff"]) == (3, 24)
    config = yaml.safe_load(nli["config_yaml"])
    assert [field["name"] for field in config["input"]] == ["hypothesis", "label"]
    assert nli["limits"] == {"memory": "16g", "cpus": 4, "load_timeout": 300, "request_timeout": 60,
                             "batch_size": 8, "gpu": False}


def test_task_files_in_the_data_dir_add_tasks_with_their_own_quota(start_server, tmp_path):
    tasks_dir = tmp_path / "data" / "tasks"
    tasks_dir.mkdir(parents=True)
    (tasks_dir / "toxic.yaml").write_text(
        "task: toxic\nname: Toxicity\ndynalab_threshold: 10\ndynalab_hr_diff: 1\nlimits: {memory: 2g, request_timeout: 5}\n"
        "config:\n  context: []\n  input: [{name: text, type: string}]\n"
        "  output: [{name: label, type: multiclass, labels: [toxic, fine]}]\n")
    server = start_server(data_dir=tmp_path / "data")
    tasks = {t["task_code"]: t for t in Api(server.url).get("/tasks/submitable").json()}
    assert tasks["toxic"]["name"] == "Toxicity"
    assert (tasks["toxic"]["dynalab_threshold"], tasks["toxic"]["dynalab_hr_diff"]) == (10, 1)
    assert (tasks["toxic"]["limits"]["memory"], tasks["toxic"]["limits"]["request_timeout"]) == ("2g", 5)
    assert tasks["toxic"]["limits"]["load_timeout"] == 300  # the default
    assert "nli" in tasks


def test_a_good_api_token_gets_a_bearer_token_and_a_bogus_one_401(user):
    api_token, api = user
    good = api.refresh(api_token)
    assert good.status_code == 200
    assert good.json()["token"] != api_token
    bogus = api.refresh("bogus-token")
    assert bogus.status_code == 401
    assert "unknown API token" in bogus.json()["detail"]
    missing = api.get("/authenticate/refresh_from_api")
    assert missing.status_code == 400 and "api_token" in missing.json()["detail"]


def test_the_api_token_never_appears_in_the_servers_log(shared_server, user):
    api_token, api = user
    api.bearer(api_token)
    # However the parameter's name is spelt, the app decodes it to api_token: so does the redaction.
    # (Sent by hand: requests would turn %5F back into _ before sending.)
    host, port = shared_server.url.rsplit("/", 1)[1].rsplit(":", 1)
    for query in (f"api%5Ftoken={api_token}", f"%61pi_token={api_token}&x=1", f"x=1&api_t%6Fken={api_token}"):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(f"GET /authenticate/refresh_from_api?{query} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            assert read_answer(sock)[0] == 200
    log = shared_server.log()
    assert api_token not in log
    assert "api%5Ftoken=***" in log and "%61pi_token=***&x=1" in log and "x=1&api_t%6Fken=***" in log


def test_uploads_need_a_valid_bearer_token(user):
    api_token, api = user
    bad = api.upload("not-a-token", model_archive())
    assert bad.status_code == 401
    assert "invalid or expired bearer token" in bad.json()["detail"]
    assert bad.headers["WWW-Authenticate"] == "Bearer"
    # The API token itself is not a bearer token.
    assert api.upload(api_token, model_archive()).status_code == 401
    no_header = api.http.post(api.url + "/models/upload/s3", files={"tarball": ("m.tar.gz", b"x")})
    assert no_header.status_code == 401 and "missing bearer token" in no_header.json()["detail"]
    assert api.models("not-a-token").status_code == 401


def test_bearer_tokens_expire(start_server):
    server = start_server("--token-ttl", "1")
    api = Api(server.url)
    bearer = api.bearer(server.add_user("ttl@example.org"))
    assert api.models(bearer).status_code == 200
    time.sleep(1.5)
    assert api.models(bearer).status_code == 401


def test_errors_are_json_with_a_detail_line(user):
    _, api = user
    assert api.get("/nowhere").json() == {"detail": "Not Found"}
    bearer = api.bearer(user[0])
    wrong_id = api.get("/models/abc", headers={"Authorization": f"Bearer {bearer}"})
    assert wrong_id.status_code == 400 and isinstance(wrong_id.json()["detail"], str)
