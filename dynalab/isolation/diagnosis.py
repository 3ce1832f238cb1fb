"""Why an integrated test failed, in one line, with the fix.

Reads what a run left (the probe's events, the server's output, how the
process ended) and names the first cause it recognises: an undeclared
import, a file missing from the package, network use, memory, a timeout, an
invalid response. Anything else is shown as the last lines of the traceback.
"""

import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from dynalab.files import relative_inside
from dynalab.isolation.launcher import LAUNCHER, SERVER
from dynalab.packaging.selection import ExcludeRules
from dynalab.runtime import hints
from dynalab.runtime.model_dir import placed_name
from dynalab.runtime.protocol import TIMEOUT_HINTS, Event, Reason

NETWORK_PATTERNS = re.compile(
    r"URLError|gaierror|Temporary failure in name resolution|Name or service not known|nodename nor servname"
    r"|Network is unreachable|ConnectionRefusedError|Connection refused|ConnectionError|NewConnectionError"
    r"|Failed to establish a new connection|Max retries exceeded|couldn't connect to|No route to host"
)
EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*\.)?([A-Z]\w*(?:Error|Exception|Exit|Interrupt))(?::\s*(.*))?$")
MISSING_MODULE = re.compile(r"No module named '([^']+)'")
MISSING_FILE = re.compile(r"No such file or directory: '([^']+)'|\[Errno 2\][^']*'([^']+)'")
DENIED_FILE = re.compile(r"\[Errno 13\] Permission denied: '([^']+)'")
READ_ONLY_FILE = re.compile(r"\[Errno 30\] Read-only file system: '([^']+)'")
FRAME = re.compile(r'^File "([^"]+)", line \d+')

# Reasons of error events about the probe's own connection to the server, not about the handler.
PROBE_REASONS = (Reason.CONNECTION_REFUSED, Reason.STARTUP_TIMEOUT, Reason.REQUEST_TIMEOUT, Reason.BAD_SPEC)

NO_NETWORK = "the deployment has no network access: ship the files in the project (and list them in `model_files` or open them via ROOTPATH) instead of downloading them"


@dataclass
class Diagnosis:
    """The cause of a failure (one line), the fix, and the lines of the log that show it."""

    cause: str
    hint: str
    details: list = field(default_factory=list)


def is_memory(outcome):
    """Whether the run ``outcome`` ended for want of memory (killed over its limit, or a MemoryError)."""
    errors = [event for event in outcome.events if event["event"] == Event.ERROR]
    texts = _failure_texts(errors, outcome)
    return bool(outcome.oom_killed or outcome.exit_code == 137 or any("MemoryError" in text for text in texts))


def diagnose(outcome, project_root, config, name=None):
    """A Diagnosis of the failed run ``outcome`` (a RunOutcome) of model ``name``."""
    project_root = Path(project_root)
    events = outcome.events
    errors = [event for event in events if event["event"] == Event.ERROR]
    texts = _failure_texts(errors, outcome)

    if is_memory(outcome):
        return _memory(outcome, texts)
    for text in texts:
        found = _from_traceback(text, outcome, project_root, config, name or "NAME")
        if found:
            return found
    for event in errors:
        reason = event.get("reason")
        if reason == Reason.STARTUP_TIMEOUT:
            return Diagnosis(event["message"], event.get("hint") or TIMEOUT_HINTS[Reason.STARTUP_TIMEOUT])
        if reason == Reason.REQUEST_TIMEOUT:
            return Diagnosis(event["message"], event.get("hint") or TIMEOUT_HINTS[Reason.REQUEST_TIMEOUT])
    if outcome.timed_out:
        return Diagnosis(
            "the run did not finish in time and was stopped",
            f"{TIMEOUT_HINTS[Reason.STARTUP_TIMEOUT]}; {TIMEOUT_HINTS[Reason.REQUEST_TIMEOUT]}",
            _tail(outcome.other_lines),
        )
    invalid = [event for event in events if event["event"] == Event.DATAPOINT and event.get("problems")]
    if invalid:
        return _invalid_responses(invalid, events)
    if errors:
        event = errors[0]
        return Diagnosis(
            event.get("message", "the model failed"),
            event.get("hint") or "the full traceback is in the log",
            _last_traceback_lines(event.get("traceback", "")),
        )
    exited = [line for line in outcome.other_lines if line.startswith(LAUNCHER + "the model server")]
    cause = exited[-1][len(LAUNCHER):] if exited else f"the run ended with status {outcome.exit_code} before the test finished"
    return Diagnosis(cause, "the last lines of the model's output are shown above; the full output is in the log", _tail(outcome.other_lines))


def _failure_texts(errors, outcome):
    """Tracebacks and messages to search, most telling first: the events', then the server's output."""
    texts = []
    for event in errors:
        if event.get("reason") in PROBE_REASONS:
            continue  # about the probe's own connection to the server, not the handler
        texts.append("\n".join(filter(None, [event.get("traceback"), event.get("message")])))
    server = "\n".join(line[len(SERVER):] for line in outcome.other_lines if line.startswith(SERVER))
    return [text for text in texts + [server] if text.strip()]


def _from_traceback(text, outcome, project_root, config, name):
    lines = [line.strip() for line in text.splitlines()]
    raised = [line for line in lines if EXCEPTION_LINE.match(line)]
    # The exception raised last is the cause, unless it only wraps a known one.
    for line in reversed(raised) if raised else []:
        module = MISSING_MODULE.search(line)
        if module and ("ModuleNotFoundError" in line or "ImportError" in line):
            importer = _importing_file(lines[: lines.index(line)], outcome, config)
            return _missing_module(module.group(1), line, importer, project_root, config, name)
        missing = MISSING_FILE.search(line)
        if missing and ("FileNotFoundError" in line or "OSError" in line or "IOError" in line):
            return _missing_file(missing.group(1) or missing.group(2), outcome, project_root, config)
        denied = DENIED_FILE.search(line)
        if denied and _package_relative(denied.group(1), outcome)[0] is None:
            return _outside_package("PermissionError", denied.group(1))
        read_only = READ_ONLY_FILE.search(line)
        if read_only:
            return Diagnosis(
                f"the handler writes {read_only.group(1)}, but the package and the model dir are read-only",
                "write temporary files in the temporary folder (the tempfile module, or $TMPDIR): the only writable place",
                _last_traceback_lines(text),
            )
        if NETWORK_PATTERNS.search(line):
            return Diagnosis(f"network access failed: {line}", NO_NETWORK, _last_traceback_lines(text))
    if NETWORK_PATTERNS.search(text):
        shown = raised[-1] if raised else next(line for line in lines if NETWORK_PATTERNS.search(line))
        return Diagnosis(f"network access failed: {shown}", NO_NETWORK, _last_traceback_lines(text))
    return None


def _missing_module(module, line, importer, project_root, config, name):
    importer = importer or "the handler"
    if module == "dynalab" or module.startswith("dynalab."):
        return Diagnosis(f"{line}: {importer} imports {module}, which Dynalab does not have", hints.dynalab_import_hint(module))
    top = module.split(".")[0]
    local = hints.find_project_module(str(project_root), top)
    if local:
        return Diagnosis(f"{line}: {local} is in the project but not next to the handler", hints.module_fix(local))
    distribution = hints.distribution_of(module)
    cause = f"{line}: {importer} imports {top!r}, which the deployment does not install"
    amend = f"`dynalab-cli init -n {name} --amend -r`"
    listed = hints.listed_requirement(str(project_root), module)
    if listed and not config.get("requirements"):
        return Diagnosis(
            f"{cause}: requirements.txt lists {listed}, but the model config does not install it (`requirements: false`)",
            f"run {amend}: it sets `requirements: true`, so the deployment installs requirements.txt",
        )
    if listed:
        return Diagnosis(
            f"{cause}, though requirements.txt lists {listed} and is installed",
            f"check in the log what pip installed for {listed}, and that it provides the module {top!r}",
        )
    if _installed_here(top):
        cause += " (it is installed on this machine, which is why the local test passed)"
    if config.get("requirements"):
        return Diagnosis(cause, f"add {distribution} to requirements.txt")
    return Diagnosis(cause, f"add {distribution} to requirements.txt, then run {amend} (sets `requirements: true`)")


def _importing_file(lines, outcome, config):
    """The project file of the last traceback frame in ``lines`` that lies in the package, or None."""
    for line in reversed(lines):
        frame = FRAME.match(line)
        if frame:
            relative, in_model_dir = _package_relative(frame.group(1), outcome)
            if relative is not None:
                return _config_path(relative, config) if in_model_dir else relative
    return None


def _config_path(placed, config):
    """The project path of ``placed``, a path in the model dir (where files sit under their bare name)."""
    top, _, rest = placed.partition("/")
    for entry in [config.get("handler"), config.get("checkpoint"), *(config.get("model_files") or [])]:
        if entry and placed_name(entry) == top:
            return f"{entry.rstrip('/')}/{rest}" if rest else entry
    return placed




def _installed_here(top):
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def _missing_file(path, outcome, project_root, config):
    rules = ExcludeRules(project_root.resolve(), config.get("exclude") or [])
    relative, in_model_dir = _package_relative(path, outcome)
    if relative is None:
        return _outside_package("FileNotFoundError", path)
    if in_model_dir:
        # Opened from the model dir (by bare name, or through a folder there): is it somewhere in the project?
        matches = hints.find_in_project(str(project_root), relative)
        excluded = [m for m in matches if rules.match(m)]
        if excluded:
            entry = rules.match(excluded[0])
            return Diagnosis(
                f"FileNotFoundError: the handler opens {relative!r}; {excluded[0]} is left out of the package by `exclude` entry {entry!r}",
                f"remove {entry!r} from `exclude`, then {hints.model_files_fix(relative, excluded[0])}",
            )
        if matches:
            return Diagnosis(
                f"FileNotFoundError: the handler opens {relative!r}; {matches[0]} is in the project but not in `model_files`, "
                "so it is not in the model dir the handler runs in",
                hints.model_files_fix(relative, matches[0]),
            )
        return Diagnosis(
            f"FileNotFoundError: the handler opens {relative!r}, which was never in the project",
            f"add {relative} to the project and to `model_files`",
        )
    entry = rules.match(relative)
    if entry:
        return Diagnosis(
            f"FileNotFoundError: the handler reads {relative}, which `exclude` entry {entry!r} leaves out of the package",
            f"remove {entry!r} from `exclude` (or exclude a narrower path) so {relative} is packaged",
        )
    if (project_root / relative).exists():
        return Diagnosis(
            f"FileNotFoundError: the handler reads {relative}, which is in the project but never packaged "
            "(.dynalab/, .dynalab_submissions/, VCS and cache folders are never packaged)",
            f"move {relative} to a packaged folder of the project",
        )
    return Diagnosis(f"FileNotFoundError: the handler reads {relative}, which was never in the project", f"add {relative} to the project")


def _outside_package(error, path):
    return Diagnosis(
        f"{error}: the handler reads {path}, which is outside the package (the model sees only its package, "
        "its environment and the system's libraries)",
        "the deployment only has the packaged project: copy the file into the project and open it "
        "relative to ROOTPATH (from dynalab.tasks.task_io import ROOTPATH)",
    )


def _package_relative(path, outcome):
    """(path relative to ROOTPATH or bare name in the model dir, whether it is in the model dir)."""
    opened = os.path.join(outcome.model_dir, path)  # an absolute path stays as it is
    for base, in_model_dir in ((outcome.model_dir, True), (outcome.rootpath, False)):
        relative = relative_inside(opened, base) if base else None
        if relative not in (None, "."):
            return relative, in_model_dir
    return None, False


def _memory(outcome, texts):
    limit = outcome.memory_limit
    if limit:
        cause = f"the model ran out of memory (the task's memory limit is {limit}; it was killed over it)"
        if not (outcome.oom_killed or outcome.exit_code == 137):
            cause = f"the model ran out of memory (MemoryError under the task's memory limit of {limit})"
        hint = (f"make the model use less memory: the task gives its processes {limit} together "
                "(the task's `limits.memory`; the model config cannot raise it)")
    else:
        cause = "the model ran out of memory (MemoryError, or killed by the system)"
        hint = "make the model use less memory: the task's `limits.memory` is what the deployment gives it"
    details = next((_last_traceback_lines(text) for text in texts if "MemoryError" in text), _tail(outcome.other_lines))
    return Diagnosis(cause, hint, details)


def _invalid_responses(invalid, events):
    total = next((event.get("total") for event in events if event["event"] == Event.DONE), None) or len(invalid)
    first = invalid[0]
    problems = first["problems"]
    shown = "; ".join(
        f"{p.get('field')}: expected {p.get('expected')}, got {p.get('got')}" for p in problems[:3]
    )
    hint = next((p.get("hint") for p in problems if p.get("hint")), None)
    return Diagnosis(
        f"{len(invalid)} of {total} responses are invalid (datapoint {first.get('index')}: {shown})",
        hint or "make the handler's response match the task's output format (the local test shows each response)",
        [f"input: {first.get('input')}", f"response: {first.get('response')}"],
    )


def _last_traceback_lines(text, count=8):
    # Without the ^^^^ markers that only point at columns.
    lines = [line for line in (text or "").splitlines() if line.strip() and set(line.strip()) - set("^~")]
    return lines[-count:]


def _tail(lines, count=15):
    return [line for line in list(lines)[-count:]]
