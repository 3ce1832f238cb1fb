"""``dynalab-cli init``: create, amend or rename a model's config.

On a terminal, values not given as flags are asked for, as the original tool
did. Without one, nothing is asked: a missing required value is an error that
names the flag. The config is written only once it is valid, so a failed
``init`` or ``--amend`` leaves the previous config as it was.
"""

import os
import shutil
import string
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

from dynalab import prompts
from dynalab.errors import ConfigError, UsageError
from dynalab.files import replacing
from dynalab.project import Project, check_model_name
from dynalab.project.config import (check_excludes, check_model_files, load_config, save_config,
                                    validate_config)
from dynalab.project.documents import read_yaml, update_fields
from dynalab.project.task_definitions import known_tasks, resolve_task_definition, write_packaged_copy
from dynalab.steps.results import Outcome

DEFAULT_HANDLER = "handler.py"


def run(run):
    """The step's action: create (``--amend``: change, ``--rename``: rename) the config of a model."""
    flags = run.flags
    if not flags.name:
        raise UsageError("init needs the model's name: -n NAME", hint="e.g. dynalab-cli init -n my-model")
    if flags.root_dir and not os.path.isdir(flags.root_dir):
        raise UsageError(f"--root-dir {flags.root_dir!r} is not a folder", hint="give the path of your project's folder")
    project = Project(flags.root_dir) if flags.root_dir else run.project
    name = flags.name
    if flags.rename:
        rename_model(project, name, flags.rename, out=run.out)
        run.runner.forget_model(name)
        name = flags.rename
        if not flags.amend:
            return Outcome(details={"renamed_to": name})
    fields = {
        "task": flags.task,
        "checkpoint": flags.model_checkpoint,
        "handler": flags.handler,
        "requirements": flags.install_requirements,
        "setup": flags.run_setup,
        "model_files": split_list(flags.model_files),
        "exclude": split_list(flags.exclude),
    }
    if flags.amend:
        config = amend_model(project, name, fields, out=run.out)
    else:
        config = init_model(project, name, task=flags.task, checkpoint=flags.model_checkpoint, handler=flags.handler,
                            requirements=flags.install_requirements, setup=flags.run_setup,
                            model_files=fields["model_files"], exclude=fields["exclude"], yes=flags.yes, out=run.out)
    run.runner.forget_model(name)  # the config just written is the one later steps of this command read
    return Outcome(details={"config": project.relative(project.config_path(name)), "task": config["task"]})


def refresh_from_server(project, out=print):
    """Fetch the task list of the configured server (``DYNALAB_API_URL``, the settings'
    ``api_url`` or the last login's), if any, into the project's cache; quietly keep the cache when offline."""
    from dynalab.client import auth
    from dynalab.client.tasks_source import load_tasks
    from dynalab.project.settings import resolve

    url = resolve("api_url").value or auth.saved_api_url()
    if url:
        tasks = load_tasks(project, url.rstrip("/"))
        if tasks.source != "server":
            out(f"note: the server at {url} did not answer; using {tasks.source} task definitions")


def split_list(value):
    """``"a,b"`` (from a flag) as ``["a", "b"]``; None stays None."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        items = [item for part in value for item in str(part).split(",")]
    else:
        items = str(value).split(",")
    return [item.strip() for item in items if item.strip()]


def init_model(project, name, *, task=None, checkpoint=None, handler=None, requirements=None,
               setup=None, model_files=None, exclude=None, yes=False, out=print):
    """Create the config of a new model (or replace one, when confirmed)."""
    name = check_model_name(name)
    asking = prompts.interactive()
    if project.config_path(name).exists() or project.legacy_config_path(name).exists():
        if asking:
            if not prompts.confirm(f"Model {name!r} is already initialised. Overwrite its config?", default=False):
                raise UsageError("init cancelled; the existing config is unchanged",
                                 hint=f"to change some fields, run `dynalab-cli init -n {name} --amend`")
        elif not yes:
            raise UsageError(
                f"model {name!r} is already initialised",
                hint="pass --yes to overwrite its config, or `--amend` with the fields to change",
            )

    refresh_from_server(project, out)
    if task is None and asking:
        tasks = known_tasks(project)
        task = prompts.choose("Which task is the model for?", list(tasks), tasks)
    if checkpoint is None and asking:
        checkpoint = _ask_path(project, "Path to the model checkpoint (relative to the project root)",
                               lambda path: path.is_file(), "is not a file")
    if handler is None and asking:
        template_note = "" if (project.root / DEFAULT_HANDLER).exists() else " to create a template handler"
        handler = _ask_path(
            project, f"Path to the handler (press enter{template_note} for ./{DEFAULT_HANDLER})",
            lambda path: path.suffix == ".py" and not path.is_dir(), "is not a .py file", optional=True,
        ) or None
    missing = [flag for flag, value in (("-t/--task TASK", task), ("--model-checkpoint PATH", checkpoint)) if not value]
    if missing:
        raise UsageError(
            f"missing {' and '.join(missing)} (no terminal to ask on)",
            hint=f"e.g. dynalab-cli init -n {name} -t nli --model-checkpoint model.pt",
        )
    handler = handler or DEFAULT_HANDLER
    requirements = _optional_install(project, "requirements.txt", requirements, asking, "-r/--install-requirements", out)
    setup = _optional_install(project, "setup.py", setup, asking, "--run-setup", out)
    source = f"init -n {name}"
    if model_files is None and asking:
        model_files = _ask_list(
            project, "Extra model files, comma separated (enter for none)",
            lambda entries: check_model_files(project, entries, source, beside=_relative_all(project, [checkpoint, handler])),
        )
    if exclude is None and asking:
        needed = {entry: (project.root / entry).resolve()
                  for entry in _relative_all(project, [checkpoint, handler, *(model_files or [])])}
        exclude = _ask_list(project, "Files or folders to exclude, comma separated (enter for none)",
                            lambda entries: check_excludes(project, entries, needed, source))

    checkpoint, handler = _relative(project, checkpoint), _relative(project, handler)
    model_files = _relative_all(project, model_files)
    exclude = _relative_all(project, exclude)
    raw = {
        "task": task,
        "checkpoint": checkpoint,
        "handler": handler,
        "requirements": bool(requirements),
        "setup": bool(setup),
        "model_files": model_files,
        "exclude": exclude,
    }
    config = validate_config(project, raw, source=source, check_paths=False)
    definition = resolve_task_definition(project, config, source)
    created_handler = None
    if not os.path.lexists(project.root / handler):
        created_handler = create_handler(project, handler, task, name)
    try:
        config = validate_config(project, raw, source=source)
    except ConfigError:
        if created_handler:
            created_handler.unlink()
        raise
    write_packaged_copy(project, definition)
    save_config(project, name, config)
    _warn_missing_excludes(project, config, out)
    if created_handler:
        out(f"Created a handler from the template at {handler}: complete its TODO blocks.")
    out(f"Initialised model {name!r} for task {task!r}: config at {project.relative(project.config_path(name))}")
    out(f"Next: dynalab-cli test --local -n {name}")
    return config


def amend_model(project, name, changes, out=print):
    """Change the fields in ``changes``; with none given on a terminal, open $EDITOR."""
    name = check_model_name(name)
    current = load_config(project, name, check_paths=False)
    path = project.config_path(name)
    source = project.relative(path)
    changes = {field: value for field, value in changes.items() if value is not None}
    for field in ("checkpoint", "handler"):
        if field in changes:
            changes[field] = _relative(project, changes[field])
    for field in ("model_files", "exclude"):
        if field in changes:
            changes[field] = _relative_all(project, changes[field])
    if not changes:
        if not prompts.interactive():
            raise UsageError(
                f"nothing to amend for {name!r}: no field given and no terminal to open an editor on",
                hint="pass the fields to change, e.g. --exclude data,checkpoints or --model-files vocab.json",
            )
        return edit_config(project, name, out)
    config = validate_config(project, {**current, **changes}, source=source)
    if "task" in changes or "task_file" in changes:
        write_packaged_copy(project, resolve_task_definition(project, config, source))
    update_fields(path, {field: config[field] for field in changes})
    _warn_missing_excludes(project, config, out)
    out(f"Updated {', '.join(sorted(changes))} in {source}")
    return config


def edit_config(project, name, out=print):
    """Let the user edit the config in $EDITOR; keep the edit only if it is valid."""
    path = project.config_path(name)
    source = project.relative(path)
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    original = path.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="dynalab-edit-") as tmp:
        draft = Path(tmp) / "config.yaml"
        draft.write_text(original, encoding="utf-8")
        while True:
            if subprocess.call(f'{editor} "{draft}"', shell=True) != 0:
                raise UsageError(f"the editor ({editor}) failed; {source} is unchanged")
            try:
                config = validate_config(project, read_yaml(draft), source=source)
                definition = resolve_task_definition(project, config, source)
            except ConfigError as error:
                out(_problem(error))
                if prompts.confirm("Edit again?", default=True):
                    continue
                raise UsageError(f"edit discarded: {source} keeps its previous, valid version")
            break
        with replacing(path) as saved:
            shutil.copyfile(draft, saved)
    write_packaged_copy(project, definition)
    out(f"Saved {source}")
    return config


def rename_model(project, name, new_name, out=print):
    """Rename a model: its folder under .dynalab/ moves, with its state."""
    name, new_name = check_model_name(name), check_model_name(new_name)
    old_dir, new_dir = project.model_dir(name), project.model_dir(new_name)
    if not old_dir.is_dir():
        raise UsageError(f"model {name!r} is not initialised in {project.root}")
    if new_dir.exists():
        raise UsageError(f"model {new_name!r} already exists", hint="pick another name")
    old_dir.rename(new_dir)
    out(f"Renamed model {name!r} to {new_name!r}")


def create_handler(project, handler, task, name):
    """Write the handler template (task and model filled in) at ``handler``."""
    template = resources.files("dynalab.templates").joinpath("handler.py.template").read_text(encoding="utf-8")
    path = project.root / handler
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "x", encoding="utf-8") as f:
        f.write(string.Template(template).safe_substitute(task=task, name=name))
    return path


def _relative(project, value):
    """A path typed as absolute but inside the root, made relative (configs travel with the project)."""
    if value and os.path.isabs(value) and project.contains(value):
        return project.relative(value)
    return value


def _relative_all(project, values):
    return [_relative(project, value) for value in values or []]


def _ask_list(project, question, check):
    """Ask for a comma-separated list until ``check`` (raising ConfigError) accepts it."""
    while True:
        entries = _relative_all(project, split_list(prompts.ask(question, default="")))
        try:
            check(entries)
        except ConfigError as error:
            print(_problem(error) + "\nPlease answer again.")
            continue
        return entries


def _problem(error):
    """A ConfigError shown at a prompt, before asking again."""
    return f"error: {error}" + (f"\n  hint: {error.hint}" if error.hint else "")


def _ask_path(project, question, acceptable, problem, optional=False):
    """Ask for a path until it exists inside the root and passes ``acceptable``."""
    while True:
        answer = prompts.ask(question)
        if not answer and optional:
            return ""
        path = project.root / answer if answer else None
        if path is None or not path.exists():
            print(f"{answer!r} does not exist under {project.root}." if answer else "A path is needed.")
        elif not acceptable(path):
            print(f"{answer!r} {problem}.")
        elif not project.contains(path):
            print(f"{answer!r} is outside the project root {project.root}.")
        else:
            return _relative(project, answer)


def _warn_missing_excludes(project, config, out):
    for entry in config["exclude"]:
        if not os.path.lexists(project.root / entry):
            out(f"note: exclude entry {entry!r} matches nothing in {project.root} (a typo?)")


def _optional_install(project, filename, value, asking, flag, out):
    if value is not None:
        return value
    if not (project.root / filename).exists():
        return False
    if asking:
        return prompts.confirm(f"{filename} found. Install it in the deployment environment?", default=True)
    out(f"note: {filename} found but not used; pass {flag} to install it in the deployment environment")
    return False
