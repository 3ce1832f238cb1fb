"""The runtime runs next to the user's model: it must never import a third-party package."""

import json
import subprocess
import sys

import pytest

from runtime_support import runtime_env

REPORT_THIRD_PARTY = """
import atexit, json, sys
_before = set(sys.modules)

def _report():
    allowed = set(sys.stdlib_module_names) | {"dynalab"}
    new = set(sys.modules) - _before
    third_party = sorted(name for name in new if name.split(".")[0] not in allowed)
    sys.stderr.write("THIRD-PARTY " + json.dumps(third_party) + "\\n")

atexit.register(_report)
"""


def _third_party(stderr):
    line = next(line for line in stderr.splitlines() if line.startswith("THIRD-PARTY "))
    return json.loads(line[len("THIRD-PARTY "):])


@pytest.mark.parametrize(
    "module",
    [
        "dynalab.runtime.server",
        "dynalab.runtime.probe",
        "dynalab.runtime.local_runner",
        "dynalab.runtime.checks",
        "dynalab.runtime.model_dir",
        "dynalab.runtime.hints",
        "dynalab.handler.base_handler",
        "dynalab.tasks.common",
        "dynalab.tasks.nli",
        "dynalab.tasks.flores_small1",
    ],
)
def test_importing_a_runtime_module_pulls_in_only_the_standard_library(module):
    code = REPORT_THIRD_PARTY + f"import {module}\n"
    process = subprocess.run([sys.executable, "-c", code], env=runtime_env(), capture_output=True, text=True, timeout=60)
    assert process.returncode == 0, process.stderr
    assert _third_party(process.stderr) == []


def test_a_whole_local_run_uses_only_the_standard_library(runtime_spec):
    spec = runtime_spec("good_nli")
    code = REPORT_THIRD_PARTY + (
        "import runpy\n"
        f"sys.argv = ['local_runner', {str(spec)!r}]\n"
        "runpy.run_module('dynalab.runtime.local_runner', run_name='__main__')\n"
    )
    process = subprocess.run([sys.executable, "-c", code], env=runtime_env(), cwd=spec.parent,
                             capture_output=True, text=True, timeout=60)
    assert process.returncode == 0, process.stdout + process.stderr
    # "handler" is the user's own module, imported from the model dir.
    assert _third_party(process.stderr) == ["handler"]

