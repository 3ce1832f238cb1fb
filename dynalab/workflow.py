"""The invoke tasks behind ``dynalab-cli``, one per workflow step.

Each task parses its flags and calls a plain function in ``dynalab.steps``
(or ``dynalab.init_model`` / ``dynalab.client``); the functions hold the
logic and can be called from Python too. To drive the steps with plain
``invoke`` from your own project, add your tasks to this collection in your
tasks.py (as tests/projects/own-tasks-py does, and the README shows):

    from invoke import task

    from dynalab.workflow import namespace  # invoke looks for `namespace`: Dynalab's steps


    @task
    def hello(c):  # plus tasks of your own
        print("hello from the project's own task")


    namespace.add_task(hello)  # then: invoke local-test -n my-model hello

Tasks can be chained in one call: ``dynalab-cli test --local -n m upload -n m``.
"""

import os
import sys

from invoke import Collection, Task, task
from invoke.exceptions import Exit

from dynalab import steps
from dynalab.init_model import amend_model, init_model, rename_model, split_list
from dynalab.errors import DynalabError, UsageError, debugging, user_message
from dynalab.project import Project


class Step(Task):
    """A workflow step as an invoke task.

    Its errors become invoke's ``Exit``: one message and the error class's exit
    code, under ``dynalab-cli`` and plain ``invoke`` alike.

    ``short`` maps parameters to their short flag (``-n`` for name, as the
    original tool had); ``tristate`` parameters are switches that stay None
    when not given, so ``init --amend`` can tell "not given" from "false".
    """

    def __init__(self, *args, short=None, tristate=(), **kwargs):
        self.short = short or {}
        self.tristate = tuple(tristate)
        kwargs.setdefault("auto_shortflags", False)
        super().__init__(*args, **kwargs)

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except DynalabError as error:
            if debugging():
                raise
            sys.stdout.flush()  # what the step printed comes before the verdict
            raise Exit(user_message(error), code=error.exit_code) from None

    def arg_opts(self, name, default, taken_names):
        opts = super().arg_opts(name, default, taken_names)
        if name in self.short:
            opts["names"] = [*opts["names"], self.short[name]]
        if name in self.tristate:
            opts["kind"] = bool
            opts["default"] = None
        return opts


NAME_HELP = "Name of the model (lowercase letters, digits, dashes); optional when only one model is initialised."


@task(
    klass=Step,
    short={"name": "n", "task": "t", "root_dir": "d", "install_requirements": "r", "amend": "a", "yes": "y"},
    tristate=("install_requirements", "run_setup"),
    help={
        "name": "Name of the model (lowercase letters, digits and dashes).",
        "task": "Task code (nli, qa, sentiment, hs, vqa, or one from your server).",
        "root-dir": "Project root (default: the current directory).",
        "model-checkpoint": "Path to the model checkpoint, relative to the root.",
        "handler": "Path to the handler .py (created from a template if missing; default handler.py).",
        "install-requirements": "Install requirements.txt in the deployment environment.",
        "run-setup": "Install the project's setup.py in the deployment environment.",
        "model-files": "Comma-separated extra files placed next to the handler.",
        "exclude": "Comma-separated files/folders left out of the package.",
        "amend": "Change an existing config: the given fields, or all of them in $EDITOR.",
        "rename": "New name for the model (with --amend or alone).",
        "yes": "Overwrite an existing config without asking.",
    },
)
def init(c, name=None, task=None, root_dir=None, model_checkpoint=None, handler=None, install_requirements=None,
         run_setup=None, model_files=None, exclude=None, amend=False, rename=None, yes=False):
    """Create the config of a model (and a handler from the template if missing)."""
    if not name:
        raise UsageError("init needs the model's name: -n NAME", hint="e.g. dynalab-cli init -n my-model")
    if root_dir and not os.path.isdir(root_dir):
        raise UsageError(f"--root-dir {root_dir!r} is not a folder", hint="give the path of your project's folder")
    project = Project(root_dir)
    if rename:
        rename_model(project, name, rename)
        name = rename
        if not amend:
            return
    fields = {
        "task": task,
        "checkpoint": model_checkpoint,
        "handler": handler,
        "requirements": install_requirements,
        "setup": run_setup,
        "model_files": split_list(model_files),
        "exclude": split_list(exclude),
    }
    if amend:
        amend_model(project, name, fields)
    else:
        init_model(project, name, task=task, checkpoint=model_checkpoint, handler=handler,
                   requirements=install_requirements, setup=run_setup,
                   model_files=fields["model_files"], exclude=fields["exclude"], yes=yes)


@task(
    klass=Step,
    short={"name": "n", "local": "l", "force": "f", "backend": "b"},
    help={
        "name": NAME_HELP,
        "local": "Run only the local test (in your own environment).",
        "force": "Rerun even if nothing changed since the last pass.",
        "backend": "Integrated test backend: sandbox or docker (default: the config's, else your settings').",
    },
)
def test(c, name=None, local=False, force=False, backend=None):
    """Test the model: --local in your environment, else packaged in an isolated one."""
    if local:
        steps.local_test(Project(), name, force=force)
    else:
        steps.integrated_test(Project(), name, backend=backend, force=force)


@task(klass=Step, name="local-test", short={"name": "n", "force": "f"},
      help={"name": NAME_HELP, "force": "Rerun even if nothing changed since the last pass."})
def local_test(c, name=None, force=False):
    """Run the handler on the task's mock inputs in your own environment."""
    steps.local_test(Project(), name, force=force)


@task(klass=Step, short={"name": "n", "force": "f", "list": "l"},
      help={"name": NAME_HELP, "list": "List the files in the package.", "force": "Rebuild even if unchanged."})
def package(c, name=None, list=False, force=False):
    """Build the archive exactly as upload will send it; print its path, size and sha256."""
    _, archive = steps.package(Project(), name, force=force)
    if list:
        for path in archive.files:
            print(f"  {path}")


@task(klass=Step, name="integrated-test", short={"name": "n", "force": "f", "backend": "b"},
      help={"name": NAME_HELP, "force": "Rerun even if nothing changed since the last pass.",
            "backend": "sandbox or docker (default: the config's, else your settings')."})
def integrated_test(c, name=None, backend=None, force=False):
    """Serve the packaged model in an isolated environment and test it over HTTP."""
    steps.integrated_test(Project(), name, backend=backend, force=force)


@task(klass=Step, short={"name": "n", "force": "f", "backend": "b"},
      help={"name": NAME_HELP, "force": "Upload even if this exact package was uploaded before (uses quota).",
            "backend": "Integrated test backend, if it has to run: sandbox or docker.",
            "api-url": "Evaluation server (default: $DYNALAB_API_URL, the config's api_url, your settings', the login's server).",
            "no-progress": "No progress bar (there is none without a terminal anyway).",
            "allow-unisolated": "Upload even if the integrated test passed without network isolation."})
def upload(c, name=None, force=False, backend=None, api_url=None, no_progress=False, allow_unisolated=False):
    """Send the tested package to the evaluation server (runs the tests first if needed)."""
    steps.upload(Project(), name, api_url=api_url, backend=backend, force=force, progress=not no_progress,
                 allow_unisolated=allow_unisolated)


@task(klass=Step, short={"token": "t"},
      help={"token": "The API token (for CI; prefer --token-stdin or $DYNALAB_API_TOKEN: flags show in `ps`).",
            "token-stdin": "Read the API token from standard input.",
            "api-url": "Evaluation server (default: $DYNALAB_API_URL, your settings', the last login's, else http://127.0.0.1:8000).",
            "no-browser": "Do not open the token page in a browser."})
def login(c, token=None, token_stdin=False, api_url=None, no_browser=False):
    """Check your API token with the evaluation server and save it (~/.dynalab/secrets.json, mode 0600)."""
    from dynalab.client import api, login as client_login

    url = api.resolve_api_url(api_url)
    path = client_login.login(url, token=token, token_stdin=token_stdin, open_browser=not no_browser)
    print(f"Logged in to {url}; token saved in {path}")


@task
def logout(c):
    """Forget the saved API token."""
    from dynalab.client import login as client_login

    print("Logged out." if client_login.logout() else "Not logged in: nothing to forget.")


@task(klass=Step, short={"name": "n"},
      help={"name": "Include this model's config (default: the only model here, if there is one)."})
def doctor(c, name=None):
    """Show the settings in effect and where each comes from, and whether Docker, unshare/bwrap and a torch wheel are usable."""
    from dynalab.doctor import report

    report(Project(), name)


namespace = Collection(init, test, local_test, package, integrated_test, upload, login, logout, doctor)
