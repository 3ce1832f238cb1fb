"""``dynalab-server``: run the evaluation server, and administer its users and quotas.

Each command is a small function over explicit arguments; ``main`` parses the
command line and turns every expected failure into one ``error:`` line and a
non-zero exit, in one place.
"""

import argparse
import sys

from sqlalchemy import delete, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from dynalab.errors import DynalabError, UsageError
from dynalab.server import auth
from dynalab.server.db.database import open_database
from dynalab.server.db.models import TaskQuota, Upload, User, iso
from dynalab.server.settings import (
    DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_HOST, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_UNPACKED_BYTES, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_PORT, DEFAULT_TOKEN_TTL, Settings,
)
from dynalab.server.task_catalog import load_catalog

PROG = "dynalab-server"


def cmd_run(settings, log_level="info"):
    """Serve the API until interrupted."""
    from dynalab.server.serve import serve  # uvicorn is needed only here

    for option, value in (("--max-upload-bytes", settings.max_upload_bytes),
                          ("--max-unpacked-bytes", settings.max_unpacked_bytes),
                          ("--token-ttl", settings.token_ttl),
                          ("--header-timeout", settings.header_timeout),
                          ("--body-timeout", settings.body_timeout),
                          ("--max-connections", settings.max_connections)):
        if value <= 0:
            raise UsageError(f"{option} must be a positive number, not {value}")

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    serve(settings, log_level)


def cmd_add_user(settings, email, password=None):
    """Create an account; its API token is the last line printed."""
    email = _check_email(email)
    db = _open_db(settings)
    with db.session() as session:
        if db.user_by_email(session, email) is not None:
            raise UsageError(f"a user with email {email} already exists",
                             hint=f"to give them a new token: {PROG} rotate-token {email}")
        user, token = auth.create_user(session, email, password)
        session.commit()
    print(f"Added user {email} (id {user.id}).")
    if not password:
        print(f"No password set, so {email} cannot sign in on the web page yet: give them the API "
              "token below (`dynalab-cli login` asks for it), or set a password with "
              f"`{PROG} set-password {email} --password-stdin`.")
    print("API token (shown once; the server keeps only its hash):")
    print(token)


def cmd_set_password(settings, email, password):
    """Set the password used on the /generate_api_token page (browsers signed in before must sign in again)."""
    if not password:
        raise UsageError("the password is empty", hint="give --password P or --password-stdin")
    db = _open_db(settings)
    with db.session() as session:
        user = _user(db, session, email)
        user.password_hash = auth.hash_password(password)
        session.commit()
    print(f"Password of {user.email} set.")


def cmd_rotate_token(settings, email):
    """Issue a new API token; the old one and its bearer tokens stop working."""
    db = _open_db(settings)
    with db.session() as session:
        user = _user(db, session, email)
        token = auth.rotate_api_token(session, user)
        session.commit()
    print(f"New API token for {user.email} (the previous one no longer works):")
    print(token)


def cmd_list_users(settings):
    """One line per user: id, email, web sign-in, number of uploads, creation time."""
    db = _open_db(settings)
    with db.session() as session:
        counts = dict(session.execute(select(Upload.user_id, func.count()).group_by(Upload.user_id)).all())
        users = session.scalars(select(User).order_by(User.id)).all()
    if not users:
        print(f"No users yet: add one with `{PROG} add-user`.")
    for user in users:
        sign_in = "password" if user.password_hash else "no-password"
        print(f"{user.id}\t{user.email}\t{sign_in}\t{counts.get(user.id, 0)} uploads\t{iso(user.created_at)}")


def cmd_list_tasks(settings):
    """One line per task: code, quota, name."""
    db, catalog = _open_db(settings), load_catalog(settings.tasks_dir)
    with db.session() as session:
        for code in catalog.codes():
            quota = catalog.quota(session, code)
            name = catalog.definitions[code].get("name", "")
            print(f"{code}\t{quota.threshold} uploads / {quota.hr_diff} h\t{name}")


def cmd_set_quota(settings, task_code, threshold=None, hours=None, reset=False):
    """Override a task's upload quota (or go back to the default with --reset)."""
    db, catalog = _open_db(settings), load_catalog(settings.tasks_dir)
    if task_code not in catalog:
        raise UsageError(f"unknown task {task_code!r} (known: {', '.join(catalog.codes())})")
    with db.session() as session:
        if reset:
            session.execute(delete(TaskQuota).where(TaskQuota.task_code == task_code))
        else:
            if threshold is None and hours is None:
                raise UsageError("give --threshold N, --hours H or both (or --reset)")
            if (threshold or 0) < 0 or (hours or 0) < 0:
                raise UsageError("--threshold and --hours must be >= 0")
            current = catalog.quota(session, task_code)  # what an option left out keeps
            session.merge(TaskQuota(task_code=task_code,
                                    threshold=current.threshold if threshold is None else threshold,
                                    hr_diff=current.hr_diff if hours is None else hours))
        session.commit()
        quota = catalog.quota(session, task_code)
    print(f"Task {task_code}: at most {quota.threshold} uploads per {quota.hr_diff} hours per user.")


def _check_email(email):
    email = email.strip().lower()
    if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
        raise UsageError(f"{email!r} is not an email address")
    return email


def _open_db(settings):
    if not settings.data_dir.is_dir():
        raise UsageError(f"data dir {settings.data_dir} does not exist",
                         hint=f"create it, or start the server once: {PROG} run --data-dir {settings.data_dir}")
    return open_database(settings.database_url)


def _user(db, session, email):
    user = db.user_by_email(session, email.strip().lower())
    if user is None:
        raise UsageError(f"no user with email {email}", hint=f"see `{PROG} list-users`")
    return user


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description="Self-hosted Dynalab evaluation server.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", required=True, help="folder for the database, uploads and task files")
    common.add_argument("--database-url", default="",
                        help="SQLAlchemy database URL (default: SQLite file DATA_DIR/dynalab.sqlite3)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", parents=[common], help="serve the API")
    run.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    run.add_argument("--port", type=int, default=DEFAULT_PORT,
                     help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    run.add_argument("--max-upload-bytes", type=int, default=DEFAULT_MAX_UPLOAD_BYTES,
                     help="largest accepted archive (default 2 GiB)")
    run.add_argument("--max-unpacked-bytes", type=int, default=DEFAULT_MAX_UNPACKED_BYTES,
                     help="largest total size of an archive's files once unpacked (default 20 GiB)")
    run.add_argument("--token-ttl", type=int, default=DEFAULT_TOKEN_TTL,
                     help="lifetime of bearer tokens in seconds (default 3600)")
    run.add_argument("--header-timeout", type=float, default=DEFAULT_HEADER_TIMEOUT, metavar="SECONDS",
                     help="time a connection has to send a request's headers (default 10)")
    run.add_argument("--body-timeout", type=float, default=DEFAULT_BODY_TIMEOUT, metavar="SECONDS",
                     help="longest silence allowed while a request body is sent (default 30)")
    run.add_argument("--max-connections", type=int, default=DEFAULT_MAX_CONNECTIONS, metavar="N",
                     help="connections served at once; requests past it get HTTP 503 (default 200)")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])

    add_user = commands.add_parser("add-user", parents=[common], help="create an account, print its API token")
    add_user.add_argument("email")
    _password_options(add_user)
    set_password = commands.add_parser("set-password", parents=[common], help="set a user's web sign-in password")
    set_password.add_argument("email")
    _password_options(set_password)
    rotate = commands.add_parser("rotate-token", parents=[common], help="issue a new API token for a user")
    rotate.add_argument("email")
    commands.add_parser("list-users", parents=[common], help="list the accounts")
    commands.add_parser("list-tasks", parents=[common], help="list the tasks and their quotas")
    quota = commands.add_parser("set-quota", parents=[common], help="set a task's upload quota")
    quota.add_argument("task")
    quota.add_argument("--threshold", type=int, help="uploads allowed per user within the window")
    quota.add_argument("--hours", type=int, help="length of the window in hours")
    quota.add_argument("--reset", action="store_true", help="back to the task's default quota")
    return parser


def _password_options(parser):
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--password", help="web sign-in password (visible to other local users: "
                                          "prefer --password-stdin)")
    group.add_argument("--password-stdin", action="store_true", help="read the password from stdin")


def _password(args):
    if getattr(args, "password_stdin", False):
        return sys.stdin.readline().rstrip("\r\n")
    return getattr(args, "password", None)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args) or 0
    except DynalabError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        if error.hint:
            print(f"{PROG}: hint: {error.hint}", file=sys.stderr)
        return error.exit_code
    except (SQLAlchemyError, ArgumentError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        print(f"{PROG}: error: database {_safe_url(args.database_url)}: {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _dispatch(args):
    settings = Settings(
        data_dir=args.data_dir,
        database_url=args.database_url,
        **({"host": args.host, "port": args.port, "max_upload_bytes": args.max_upload_bytes,
            "max_unpacked_bytes": args.max_unpacked_bytes, "token_ttl": args.token_ttl,
            "header_timeout": args.header_timeout, "body_timeout": args.body_timeout,
            "max_connections": args.max_connections}
           if args.command == "run" else {}),
    )
    if args.command == "run":
        return cmd_run(settings, args.log_level)
    if args.command == "add-user":
        return cmd_add_user(settings, args.email, _password(args))
    if args.command == "set-password":
        return cmd_set_password(settings, args.email, _password(args))
    if args.command == "rotate-token":
        return cmd_rotate_token(settings, args.email)
    if args.command == "list-users":
        return cmd_list_users(settings)
    if args.command == "list-tasks":
        return cmd_list_tasks(settings)
    if args.command == "set-quota":
        return cmd_set_quota(settings, args.task, args.threshold, args.hours, args.reset)
    raise AssertionError(args.command)


def _safe_url(url):
    if not url:
        return "(the data dir's SQLite file)"
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparsable URL)"


if __name__ == "__main__":
    sys.exit(main())
