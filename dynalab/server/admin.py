"""The administrator's commands: accounts, API tokens, upload quotas, evaluation datasets and
remote workers.

Each is a plain function over the server's ``Settings`` and explicit
arguments, printing what the administrator reads; ``dynalab.server.cli``
binds them to the ``dynalab-server`` subcommands. Expected failures are
``UsageError``s, which the command line prints as one line.
"""

import math

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from dynalab.errors import UsageError
from dynalab.server import auth, datasets, workers
from dynalab.server.db.database import open_database
from dynalab.server.db.models import Dataset, Job, TaskQuota, Upload, User, iso
from dynalab.server.task_catalog import load_catalog

PROG = "dynalab-server"


def add_user(settings, email, password=None):
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


def set_password(settings, email, password=None):
    """Set the password used on the /generate_api_token page (browsers signed in before must sign in again)."""
    if not password:
        raise UsageError("the password is empty", hint="give --password P or --password-stdin")
    db = _open_db(settings)
    with db.session() as session:
        user = _user(db, session, email)
        user.password_hash = auth.hash_password(password)
        session.commit()
    print(f"Password of {user.email} set.")


def rotate_token(settings, email):
    """Issue a new API token; the old one and its bearer tokens stop working."""
    db = _open_db(settings)
    with db.session() as session:
        user = _user(db, session, email)
        token = auth.rotate_api_token(session, user)
        session.commit()
    print(f"New API token for {user.email} (the previous one no longer works):")
    print(token)


def list_users(settings):
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


def list_tasks(settings):
    """One line per task: code, quota, name."""
    db, catalog = _open_db(settings), load_catalog(settings.tasks_dir)
    with db.session() as session:
        for code in catalog.codes():
            quota = catalog.quota(session, code)
            name = catalog.definitions[code].get("name", "")
            print(f"{code}\t{quota.threshold} uploads / {quota.hr_diff} h\t{name}")


def set_quota(settings, task_code, threshold=None, hours=None, reset=False):
    """Override a task's upload quota (or go back to the default with --reset)."""
    db, catalog = _open_db(settings), load_catalog(settings.tasks_dir)
    _definition(catalog, task_code)
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


def add_dataset(settings, file, task, name, access="scoring", weight=5.0):
    """Check every line of ``file`` against the task, store it, and queue its evaluation for
    every model of the task already deployed."""
    db, catalog = _open_db(settings), load_catalog(settings.tasks_dir)
    definition = _definition(catalog, task)
    if not datasets.NAME_PATTERN.match(name):
        raise UsageError(f"dataset name {name!r} is not usable",
                         hint="use up to 100 letters, digits, '.', '_' and '-', starting with a letter or digit")
    if not (math.isfinite(weight) and weight > 0):
        raise UsageError(f"--weight {weight}: must be a number above 0",
                         hint="the weight of this dataset in the task's averaged scores (default 5)")
    with db.session() as session:  # before reading what may be gigabytes
        _refuse_existing(session, task, name)
    store = datasets.DatasetStore(settings.datasets_dir)
    stored = store.add(file, datasets.ExampleChecker(definition), settings.tmp_dir)
    try:
        with db.session() as session:
            dataset = Dataset(task_code=task, name=name, access=access, weight=weight, sha256=stored.sha256,
                              examples=stored.examples)
            session.add(dataset)
            try:
                session.flush()
            except IntegrityError:  # added by someone else meanwhile
                session.rollback()
                _refuse_existing(session, task, name)
                raise
            queued = datasets.queue_evaluations_for_dataset(session, dataset)
            session.commit()
    except BaseException:
        _discard_unless_used(db, store, stored.sha256)
        raise
    print(f"Added dataset {name} to task {task}: {stored.examples} examples, access {access}, "
          f"weight {weight:g} (sha256 {stored.sha256}).")
    if queued:
        ids = ", ".join(str(model.id) for model in queued)
        plural = "s" if len(queued) > 1 else ""
        print(f"Queued its evaluation for {len(queued)} model{plural} (id{plural} {ids}).")
    else:
        print(f"No model of task {task} is deployed yet; models are evaluated on it once deployed.")


def list_datasets(settings, task=None):
    """One line per dataset: task, name, access, weight, examples, evaluations by status, sha256, creation time."""
    db, catalog = _open_db(settings), load_catalog(settings.tasks_dir)
    if task is not None:
        _definition(catalog, task)
    with db.session() as session:
        rows = datasets.datasets_of(session, task)
        counts = datasets.evaluation_counts(session)
    if not rows:
        where = f" for task {task}" if task else ""
        print(f"No datasets{where} yet: add one with `{PROG} add-dataset --task T --name N FILE.jsonl`.")
    for dataset in rows:
        statuses = counts.get(dataset.id, {})
        progress = ", ".join(f"{statuses[s]} {s}" for s in ("pending", "running", "done", "failed") if s in statuses)
        print(f"{dataset.task_code}\t{dataset.name}\t{dataset.access}\tweight {dataset.weight:g}\t"
              f"{dataset.examples} examples\t{progress or 'no evaluations'}\t{dataset.sha256}\t"
              f"{iso(dataset.created_at)}")


def remove_dataset(settings, task, name):
    """Delete a dataset and its evaluations; its file goes too unless another dataset has the same content."""
    db = _open_db(settings)
    with db.session() as session:
        dataset = datasets.find_dataset(session, task, name)
        if dataset is None:
            raise UsageError(f"task {task} has no dataset {name!r}", hint=f"see `{PROG} list-datasets --task {task}`")
        sha256 = dataset.sha256
        evaluations, settled = datasets.delete_dataset(session, dataset)
        session.commit()
    _discard_unless_used(db, datasets.DatasetStore(settings.datasets_dir), sha256)
    print(f"Removed dataset {name} of task {task} and its {evaluations} evaluation{'s' if evaluations != 1 else ''}.")
    for model in settled:
        print(f"Model {model.id} ({model.name}) is now evaluated: every remaining dataset of {task} is done.")


def add_worker(settings, name):
    """Allow a remote worker to run jobs; its token is the last line printed."""
    if not workers.NAME_PATTERN.match(name):
        raise UsageError(f"worker name {name!r} is not usable",
                         hint="use up to 100 letters, digits, '.', '_' and '-', starting with a letter or digit")
    db = _open_db(settings)
    with db.session() as session:
        if workers.find_worker(session, name) is not None:
            raise UsageError(f"a worker named {name} already exists",
                             hint=f"pick another name, or remove it first: {PROG} remove-worker {name}")
        worker, token = workers.create_worker(session, name)
        session.commit()
    print(f"Added worker {name} (id {worker.id}). Start it on its machine with:")
    print(f"  {PROG} worker --broker redis://BROKER:6379/0 --api-url http://THIS-SERVER:PORT "
          "--worker-token TOKEN")
    print("It can fetch job inputs and post job results, nothing else.")
    print("Worker token (shown once; the server keeps only its hash):")
    print(token)


def list_workers(settings):
    """One line per worker: id, name, jobs running, last seen, creation time."""
    db = _open_db(settings)
    with db.session() as session:
        rows = workers.all_workers(session)
        running = dict(session.execute(select(Job.worker, func.count()).where(Job.state == "running")
                                       .group_by(Job.worker)).all())
    if not rows:
        print(f"No workers yet: add one with `{PROG} add-worker NAME`.")
    for worker in rows:
        seen = f"last seen {iso(worker.last_seen_at)}" if worker.last_seen_at else "never seen"
        print(f"{worker.id}\t{worker.name}\t{running.get(worker.name, 0)} running\t{seen}\t"
              f"added {iso(worker.created_at)}")


def remove_worker(settings, name):
    """Revoke a worker's token: its next request is refused, and its running job is taken up by
    another worker once its lease runs out."""
    db = _open_db(settings)
    with db.session() as session:
        worker = workers.find_worker(session, name)
        if worker is None:
            raise UsageError(f"no worker named {name}", hint=f"see `{PROG} list-workers`")
        session.delete(worker)
        session.commit()
    print(f"Removed worker {name}: its token no longer works.")


def _definition(catalog, task):
    if task not in catalog:
        raise UsageError(f"unknown task {task!r} (known: {', '.join(catalog.codes())})")
    return catalog.definitions[task]


def _discard_unless_used(db, store, sha256):
    """Delete the file ``sha256`` unless a dataset (maybe of another task) has the same content."""
    with db.session() as session:
        if not session.scalar(select(func.count()).select_from(Dataset).where(Dataset.sha256 == sha256)):
            store.discard(sha256)


def _refuse_existing(session, task, name):
    if datasets.find_dataset(session, task, name) is not None:
        raise UsageError(f"task {task} already has a dataset {name!r}",
                         hint=f"pick another --name, or remove it first: {PROG} remove-dataset --task {task} "
                              f"--name {name}")


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
