"""``dynalab-server``: run the evaluation server or a worker of it, and administer its users, quotas,
datasets and workers.

Each subcommand is bound to its function (``set_defaults(command=...)``),
whose parameters are the subcommand's own arguments; the options that are
settings (``--data-dir``, ``--port``...) are declared from ``Settings``, so
each can also come from its ``DYNALAB_SERVER_*`` variable. ``main`` is the
one place where an expected failure becomes one ``error:`` line and a
non-zero exit.
"""

import argparse
import os
import sys
from typing import Literal, get_args, get_origin

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from dynalab.errors import DynalabError
from dynalab.server import admin, datasets
from dynalab.server.settings import Settings, env_variable, load_settings, option_flag, sqlite_url

PROG = admin.PROG
COMMON_SETTINGS = ("data_dir", "database_url")
RUN_SETTINGS = ("host", "port", "max_upload_bytes", "max_unpacked_bytes", "token_ttl",
                "header_timeout", "body_timeout", "max_connections", "log_level", "workers", "backend", "broker",
                "smtp_url", "smtp_from", "webhook_url", "public_url", "lease_seconds")
METAVARS = {"data_dir": "DIR", "database_url": "URL", "max_upload_bytes": "BYTES", "max_unpacked_bytes": "BYTES",
            "token_ttl": "SECONDS", "header_timeout": "SECONDS", "body_timeout": "SECONDS",
            "max_connections": "N", "workers": "N", "broker": "URL", "smtp_url": "URL",
            "smtp_from": "ADDR", "webhook_url": "URL", "public_url": "URL",
            "lease_seconds": "SECONDS"}
WORKER_TOKEN_VARIABLE = "DYNALAB_WORKER_TOKEN"


def run(settings):
    """Serve the API until interrupted."""
    from dynalab.server.serve import serve  # uvicorn is needed only here

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    serve(settings)


def worker(broker, api_url, worker_token, queue, concurrency, backend, work_dir, log_level):
    """Run a Celery worker for the server at ``api_url`` until interrupted."""
    from dynalab.errors import UsageError
    from dynalab.server.jobs.celery_executor import QUEUES, run_worker
    from dynalab.server.serve import job_function

    token = worker_token or os.environ.get(WORKER_TOKEN_VARIABLE, "")
    if not token:
        raise UsageError("no worker token given",
                         hint=f"give --worker-token T or set {WORKER_TOKEN_VARIABLE}; the server's administrator "
                              "issues one with `dynalab-server add-worker NAME`")
    queues = [name for value in (queue or ["cpu"]) for name in value.split(",") if name]
    unknown = [name for name in queues if name not in QUEUES]
    if unknown:
        raise UsageError(f"--queue {unknown[0]}: unknown queue", hint=f"the queues are {', '.join(QUEUES)}")
    if concurrency < 1:
        raise UsageError(f"--concurrency must be 1 or more, not {concurrency}")
    if "gpu" in queues:
        from dynalab.isolation.gpu import missing_gpu

        why = missing_gpu(True, backend)
        if why:
            print(f"{PROG} worker: warning: --queue gpu, but {why.replace('the task needs a GPU, and ', '')}: "
                  "the GPU jobs it takes will fail and be tried again elsewhere", file=sys.stderr)
    function = job_function()
    if function is None:
        raise UsageError("this version of Dynalab has no job function: a worker would run nothing")
    run_worker(broker, api_url, token, queues, concurrency, backend, work_dir, function, log_level)


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG, description="Self-hosted Dynalab evaluation server.",
        epilog=f"Every option of `run` (and --data-dir, --database-url) can also be set with an "
               f"environment variable, {env_variable('max_upload_bytes')} for --max-upload-bytes; "
               "an option given wins.")
    common = argparse.ArgumentParser(add_help=False)
    _add_settings(common, COMMON_SETTINGS)
    commands = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")

    def command(name, function, help):
        subparser = commands.add_parser(name, parents=[common], help=help)
        subparser.set_defaults(command=function)
        return subparser

    _add_settings(command("run", run, "serve the API"), RUN_SETTINGS)
    _email_and_password(command("add-user", admin.add_user, "create an account, print its API token"))
    _email_and_password(command("set-password", admin.set_password, "set a user's web sign-in password"))
    command("rotate-token", admin.rotate_token, "issue a new API token for a user").add_argument("email")
    command("list-users", admin.list_users, "list the accounts")
    command("list-tasks", admin.list_tasks, "list the tasks and their quotas")
    quota = command("set-quota", admin.set_quota, "set a task's upload quota")
    quota.add_argument("task_code", metavar="task")
    quota.add_argument("--threshold", type=int, help="uploads allowed per user within the window")
    quota.add_argument("--hours", type=int, help="length of the window in hours")
    quota.add_argument("--reset", action="store_true", help="back to the task's default quota")
    add = command("add-dataset", admin.add_dataset,
                  "add an evaluation dataset to a task (every deployed model of the task is evaluated on it)")
    add.add_argument("file", metavar="FILE.jsonl", help="one JSON object a line: uid, the task's inputs and targets")
    _task_and_dataset_name(add)
    add.add_argument("--access", choices=datasets.ACCESS, default="scoring",
                     help="scoring: counts in the leaderboard's averages; standard: shown; "
                          "hidden: scored, not shown (default scoring)")
    add.add_argument("--weight", type=float, default=5.0,
                     help="weight in the task's averages over scoring datasets (default 5)")
    listing = command("list-datasets", admin.list_datasets, "list the evaluation datasets")
    listing.add_argument("--task", help="only this task's")
    _task_and_dataset_name(command("remove-dataset", admin.remove_dataset,
                                   "remove a dataset and its evaluations"))
    command("add-worker", admin.add_worker,
            "allow a remote worker to run jobs, print its token").add_argument("name")
    command("list-workers", admin.list_workers, "list the remote workers")
    command("remove-worker", admin.remove_worker, "revoke a remote worker's token").add_argument("name")
    _worker_arguments(commands.add_parser(
        "worker", help="run a worker on this machine for a server started with --broker (needs no data dir)"))
    return parser


def _worker_arguments(parser):
    parser.set_defaults(command=worker, settings=False)
    parser.add_argument("--broker", required=True, metavar="URL",
                        help="the server's Celery broker, e.g. redis://HOST:6379/0")
    parser.add_argument("--api-url", required=True, metavar="URL",
                        help="the server's URL, e.g. http://HOST:8000: the worker fetches jobs' inputs there "
                             "and posts their results")
    parser.add_argument("--worker-token", metavar="T",
                        help=f"this worker's token, from `dynalab-server add-worker NAME` (or set "
                             f"{WORKER_TOKEN_VARIABLE}, which other local users cannot see)")
    parser.add_argument("--queue", action="append", metavar="NAME",
                        help="a queue to take jobs from: cpu or gpu (repeat, or comma-separate; default cpu)")
    parser.add_argument("--concurrency", type=int, default=1, metavar="N",
                        help="jobs run at once, each in a process of its own (default 1)")
    parser.add_argument("--backend", choices=("sandbox", "docker"), default="sandbox",
                        help="where uploaded models run: sandbox or docker (default sandbox)")
    parser.add_argument("--work-dir", metavar="DIR",
                        help="folder for downloaded archives (default ./dynalab-worker)")
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info",
                        help="what the worker logs (default info)")


def _task_and_dataset_name(parser):
    parser.add_argument("--task", required=True, help="the task's code, e.g. nli")
    parser.add_argument("--name", required=True, help="the dataset's name, unique in the task")


def _add_settings(parser, names):
    """An option per setting, its help from the field's description; left out, it is not set
    (so that the environment or the default decides)."""
    for name in names:
        field = Settings.model_fields[name]
        kind = field.annotation
        parser.add_argument(
            option_flag(name), dest=name, default=argparse.SUPPRESS, metavar=METAVARS.get(name),
            type=kind if kind in (int, float) else None,
            choices=get_args(kind) if get_origin(kind) is Literal else None,
            help=f"{field.description} [env: {env_variable(name)}]")


def _email_and_password(parser):
    parser.add_argument("email")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--password", help="web sign-in password (visible to other local users: "
                                          "prefer --password-stdin)")
    group.add_argument("--password-stdin", dest="password", action=_ReadPasswordFromStdin,
                       help="read the password from stdin")


class _ReadPasswordFromStdin(argparse.Action):
    """``--password-stdin``: the password is the first line of stdin."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, sys.stdin.readline().rstrip("\r\n"))


def main(argv=None):
    arguments = vars(build_parser().parse_args(argv))
    command = arguments.pop("command")
    del arguments["subcommand"]
    needs_settings = arguments.pop("settings", True)
    options = {name: arguments.pop(name) for name in list(arguments)
               if needs_settings and name in Settings.model_fields}
    settings = None
    try:
        if not needs_settings:
            return command(**arguments) or 0
        settings = load_settings(options)
        return command(settings, **arguments) or 0
    except DynalabError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        if error.hint:
            print(f"{PROG}: hint: {error.hint}", file=sys.stderr)
        return error.exit_code
    except (SQLAlchemyError, ArgumentError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        print(f"{PROG}: error: database {_safe_url(settings)}: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _safe_url(settings):
    if settings.database_url == sqlite_url(settings.data_dir):
        return "(the data dir's SQLite file)"
    try:
        return make_url(settings.database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


if __name__ == "__main__":
    sys.exit(main())
