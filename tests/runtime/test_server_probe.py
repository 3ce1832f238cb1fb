"""The model server and the probe as real processes on 127.0.0.1."""

import json
import socket
import time
import urllib.error
import urllib.request

from runtime_support import dump, kinds, of_kind, run_probe

NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(url, body=None, headers=None, timeout=10):
    """(status, headers, body text) of one request, error statuses included."""
    request = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with NO_PROXY.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read().decode()


def wait_for(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def ping(server):
    status, _, body = http(server.url + "/ping")
    return status, json.loads(body)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_probe_passes_a_good_handler_and_sigterm_stops_the_server(runtime_spec, server):
    spec = runtime_spec("good_nli")
    running = server(spec)

    result = run_probe(spec, "--port-file", running.port_file)

    assert result.returncode == 0, dump(result)
    assert kinds(result.events) == ["start", "loaded", "datapoint", "datapoint", "datapoint", "done"]
    assert result.events[-1] == {"event": "done", "passed": 3, "failed": 0, "total": 3}
    assert running.stop() == 0
    assert f"listening on 127.0.0.1:{running.port}" in running.log
    assert [line for line in running.stderr_lines if line.strip() == "READY"] == ["READY\n"]


def test_ping_says_starting_until_the_model_is_loaded(runtime_spec, server):
    spec = runtime_spec("slow_init")
    running = server(spec, env={"SLOW_INIT_SECONDS": "1.5"})

    assert ping(running) == (503, {"status": "Starting"})
    status, _, body = http(running.url + "/predictions/m1", b"{}", {"Content-Type": "application/json"})
    assert status == 503 and json.loads(body)["type"] == "ServiceUnavailableException"
    assert wait_for(lambda: ping(running)[0] == 200)
    assert ping(running) == (200, {"status": "Healthy"})


def test_the_probe_waits_for_a_slow_model(runtime_spec, server):
    spec = runtime_spec("slow_init")
    running = server(spec, env={"SLOW_INIT_SECONDS": "1.5"})

    result = run_probe(spec, "--url", running.url, "--startup-timeout", "30")

    assert result.returncode == 0, dump(result)
    assert of_kind(result.events, "loaded")[0]["seconds"] > 0.5


def test_a_model_slower_than_the_startup_timeout_is_reported(runtime_spec, server):
    spec = runtime_spec("slow_init")
    running = server(spec, env={"SLOW_INIT_SECONDS": "60"})

    result = run_probe(spec, "--url", running.url, "--startup-timeout", "1")

    assert result.returncode == 1
    error = of_kind(result.events, "error")[0]
    assert (error["stage"], error["reason"]) == ("startup", "startup_timeout")
    assert "1s" in error["message"] and "Starting" in error["message"]
    assert "load_timeout" in error["hint"] and "the task's `limits`" in error["hint"]
    assert result.events[-1] == {"event": "done", "passed": 0, "failed": 3, "total": 3}
    assert running.stop() == 0  # SIGTERM stops it even while the handler is loading


def test_a_failed_load_is_reported_by_ping_and_probe_with_the_traceback(runtime_spec, server):
    spec = runtime_spec("init_raises")
    running = server(spec)

    status, body = wait_for(lambda: (lambda answer: answer if answer[0] != 503 else None)(ping(running)))
    assert status == 500 and body["status"] == "Unhealthy"
    assert "RuntimeError: cannot load weights" in body["error"]
    assert 'handler.py", line' in body["traceback"]

    result = run_probe(spec, "--port-file", running.port_file)
    assert result.returncode == 1
    error = of_kind(result.events, "error")[0]
    assert (error["stage"], error["reason"]) == ("load", "init_failed")
    assert "cannot load weights" in error["message"] and "RuntimeError" in error["traceback"]
    assert "handle(None, context)" in error["hint"]
    assert "Traceback" in running.log


def test_a_handler_exception_is_a_500_with_the_traceback(runtime_spec, server):
    spec = runtime_spec("request_raises")
    running = server(spec)

    result = run_probe(spec, "--port-file", running.port_file)

    assert result.returncode == 1
    errors = of_kind(result.events, "error")
    assert len(errors) == 3 and [error["index"] for error in errors] == [0, 1, 2]
    assert (errors[0]["stage"], errors[0]["reason"], errors[0]["status"]) == ("datapoint", "http_error", 500)
    assert "ValueError: tokenizer vocabulary is empty" in errors[0]["message"]
    assert 'handler.py", line' in errors[0]["traceback"]
    assert "ValueError: tokenizer vocabulary is empty" in running.log
    status, _, body = http(running.url + "/predictions/m1", b'{"uid": "1"}', {"Content-Type": "application/json"})
    assert status == 500
    assert json.loads(body)["code"] == 500 and json.loads(body)["type"] == "InternalServerException"


def test_a_bad_label_over_http_fails_with_the_same_problems(runtime_spec, server):
    spec = runtime_spec("bad-label", checkpoint="model.pt")
    running = server(spec)

    result = run_probe(spec, "--port-file", running.port_file)

    assert result.returncode == 1
    datapoints = of_kind(result.events, "datapoint")
    assert len(datapoints) == 3
    assert "label" in [problem["field"] for problem in datapoints[0]["problems"]]


def test_a_slow_request_is_a_request_timeout(runtime_spec, server):
    spec = runtime_spec("slow_init")
    running = server(spec, env={"SLOW_INIT_SECONDS": "0", "SLOW_REQUEST_SECONDS": "30"})

    result = run_probe(spec, "--port-file", running.port_file, "--request-timeout", "0.5")

    assert result.returncode == 1
    errors = of_kind(result.events, "error")
    assert [(e["stage"], e["index"], e["reason"]) for e in errors] == [("datapoint", 0, "request_timeout")]
    assert "request_timeout" in errors[0]["hint"] and "the task's `limits`" in errors[0]["hint"]
    assert result.events[-1] == {"event": "done", "passed": 0, "failed": 3, "total": 3}


def test_a_server_that_dies_mid_run_is_a_refused_connection(runtime_spec, server):
    spec = runtime_spec("exits")
    running = server(spec, env={"EXIT_HOW": "os._exit"})

    result = run_probe(spec, "--port-file", running.port_file)

    assert result.returncode == 1
    errors = of_kind(result.events, "error")
    assert [(e["stage"], e["index"], e["reason"]) for e in errors] == [("datapoint", 0, "connection_refused")]
    assert running.process.wait(timeout=10) == 3


def test_nothing_listening_is_reported_as_refused_within_the_startup_timeout(runtime_spec):
    spec = runtime_spec("good_nli")

    result = run_probe(spec, "--url", f"http://127.0.0.1:{free_port()}", "--startup-timeout", "0.5")

    assert result.returncode == 1
    error = of_kind(result.events, "error")[0]
    assert error["reason"] == "startup_timeout" and "refused" in error["message"]


def test_sys_exit_in_a_request_is_a_500_and_the_server_lives_on(runtime_spec, server):
    spec = runtime_spec("exits")
    running = server(spec)
    wait_for(lambda: ping(running)[0] == 200)

    status, _, body = http(running.url + "/predictions/m1", b'{"uid": "1"}', {"Content-Type": "application/json"})

    assert status == 500 and "sys.exit(3)" in json.loads(body)["message"]
    assert ping(running)[0] == 200


def test_batched_mode_over_http(runtime_spec, server):
    spec = runtime_spec("batched-nli", checkpoint="model.pt", batched=True)
    running = server(spec)

    result = run_probe(spec, "--port-file", running.port_file)

    assert result.returncode == 0, dump(result)
    assert len(of_kind(result.events, "datapoint")) == 3


def test_requests_reach_the_handler_as_torchserve_sends_them(runtime_spec, server):
    spec = runtime_spec("context_headers")
    running = server(spec)
    wait_for(lambda: ping(running)[0] == 200)
    predictions = running.url + "/predictions/m1"
    example = {"uid": "u1", "context": "c", "hypothesis": "h"}
    body = json.dumps(example).encode()

    status, headers, text = http(predictions, body, {"Content-Type": "application/json", "X-Label": "entailed"})
    assert status == 200 and headers["X-Model"] == "m1"
    assert headers["Content-Type"] == "application/json"
    assert json.loads(text)["label"] == "entailed"

    status, _, text = http(predictions, body, {"Content-Type": "application/json", "X-Reject": "1"})
    assert (status, json.loads(text)) == (422, {"error": "rejected on request"})

    assert http(running.url + "/predictions/other", body, {"Content-Type": "application/json"})[0] == 404
    assert http(predictions, b"{broken", {"Content-Type": "application/json"})[0] == 400
    status, _, text = http(running.url + "/models")
    assert status == 200 and json.loads(text)["models"][0]["modelName"] == "m1"


def test_the_body_is_json_text_or_bytes_by_content_type(runtime_spec, server):
    spec = runtime_spec("context_headers")
    running = server(spec)
    wait_for(lambda: ping(running)[0] == 200)

    def body_type(content_type):
        status, _, text = http(running.url + "/predictions/m1", b'{"uid": "1"}', {"Content-Type": content_type, "X-Echo-Type": "1"})
        assert status == 200, text
        return json.loads(text)["type"]

    assert body_type("application/json") == "dict"
    assert body_type("application/json; charset=utf-8") == "dict"
    assert body_type("text/plain; charset=utf-8") == "str"
    assert body_type("application/octet-stream") == "bytes"


def test_a_str_response_is_sent_as_text(runtime_spec, server):
    spec = runtime_spec("batched-nli", checkpoint="model.pt", batched=True)
    running = server(spec)
    wait_for(lambda: ping(running)[0] == 200)
    line = json.dumps({"uid": "u1", "context": "c", "hypothesis": "h"}).encode()

    status, headers, text = http(running.url + "/predictions/m1", line, {"Content-Type": "text/plain; charset=utf-8"})

    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert json.loads(text)["id"] == "u1"


def test_a_handler_that_cannot_be_imported_is_unhealthy_with_a_hint(runtime_spec, server):
    spec = runtime_spec("missing_module")
    running = server(spec)

    result = run_probe(spec, "--port-file", running.port_file)

    error = of_kind(result.events, "error")[0]
    assert (error["stage"], error["reason"]) == ("import", "init_failed")
    assert "my_tokenizer" in error["message"] and "requirements.txt" in error["hint"]


def test_the_server_listens_on_a_unix_socket_when_asked(runtime_spec, tmp_path):
    import subprocess
    import sys

    from dynalab.isolation.serving import UnixHTTPConnection
    from runtime_support import runtime_env

    spec = runtime_spec("good_nli")
    path = tmp_path / "sock" / "model.sock"
    path.parent.mkdir()
    process = subprocess.Popen([sys.executable, "-m", "dynalab.runtime.server", str(spec), "--unix-socket", str(path)],
                               env=runtime_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                connection = UnixHTTPConnection(str(path), timeout=5)
                connection.request("GET", "/ping")
                body = json.loads(connection.getresponse().read())
                connection.close()
                if body["status"] == "Healthy":
                    break
            except OSError:
                pass
            time.sleep(0.1)
        connection = UnixHTTPConnection(str(path), timeout=5)
        example = {"uid": "u1", "context": "A man sleeps.", "hypothesis": "A person rests."}
        connection.request("POST", "/predictions/m1", body=json.dumps(example), headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["id"] == "u1"
        connection.close()
    finally:
        process.terminate()
        assert process.wait(15) == 0, process.stderr.read()
    assert not path.exists()  # removed on the way out
