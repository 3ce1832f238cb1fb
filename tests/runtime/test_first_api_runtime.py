"""First-API handlers in the runtime's processes, and the hints the runtime gives when a handler cannot load.

The probe runs apart from the handler: it knows a first-API response by its
``signed`` field and checks it with that API's rules.
"""

from runtime_support import dump, of_kind, run_local, run_probe

FLORES = {"checkpoint": "model.pt", "model_files": ["translate.py", "languages.json"], "task": "flores_small1"}


def sign_then_change(root):
    handler = root / "handler.py"
    handler.write_text(handler.read_text().replace(
        "        return [response]", '        response["translatedText"] = "changed"\n        return [response]'
    ))


def test_the_local_runner_passes_a_first_api_translation_handler(runtime_spec):
    result = run_local(runtime_spec("first-api-flores", **FLORES))
    assert result.returncode == 0, dump(result)
    responses = [event["response"] for event in of_kind(result.events, "datapoint")]
    assert len(responses) == 3 and all(set(response) == {"id", "translatedText", "signed"} for response in responses)


def test_the_probe_checks_first_api_responses_with_that_apis_rules(runtime_spec, server):
    spec = runtime_spec("first-api-sentiment", checkpoint="model.pt", task="sentiment")
    running = server(spec)
    result = run_probe(spec, "--port-file", running.port_file)
    assert result.returncode == 0, dump(result)
    assert result.events[-1] == {"event": "done", "passed": 3, "failed": 0, "total": 3}
    # The per-label scores do not sum to 1: only the first API's rules accept them.
    probs = [event["response"]["prob"] for event in of_kind(result.events, "datapoint")]
    assert any(abs(sum(prob.values()) - 1) > 0.01 for prob in probs), probs


def test_the_probe_rejects_a_first_api_response_whose_signed_field_is_stale(runtime_spec, server):
    spec = runtime_spec("first-api-flores", prepare=sign_then_change, **FLORES)
    running = server(spec)
    result = run_probe(spec, "--port-file", running.port_file)
    assert result.returncode == 1
    for event in of_kind(result.events, "datapoint"):
        assert [problem["field"] for problem in event["problems"]] == ["signed"], dump(result)


def test_a_file_opened_by_bare_name_gets_the_model_files_hint(runtime_spec):
    result = run_local(runtime_spec("tokenizer-file", checkpoint="model.pt"))
    (error,) = of_kind(result.events, "error")
    assert error["stage"] == "load"
    assert error["hint"].startswith("add tokenizer/merges.txt to `model_files` in the model config")


def test_a_project_module_missing_from_model_files_is_named(runtime_spec):
    # translate.py is in the project, but not in model_files.
    result = run_local(runtime_spec("first-api-flores", checkpoint="model.pt", task="flores_small1"))
    (error,) = of_kind(result.events, "error")
    assert error["stage"] == "import"
    assert error["hint"] == (
        "translate.py is in the project but not next to the handler: add translate.py to `model_files`, "
        "or import it through ROOTPATH (sys.path.append(ROOTPATH))"
    )


def test_a_listed_requirement_missing_here_says_to_install_requirements_txt(runtime_spec):
    def not_installed(root):
        (root / "model.py").write_text("import tokenizer_not_installed_here\n")
        (root / "requirements.txt").write_text("tokenizer-not-installed-here==1.0\n")

    result = run_local(runtime_spec("listed-requirement", checkpoint="model.pt", model_files=["model.py"],
                                    prepare=not_installed))
    (error,) = of_kind(result.events, "error")
    assert error["hint"] == (
        "requirements.txt lists tokenizer-not-installed-here, but it is not installed here: pip install -r requirements.txt"
    )
