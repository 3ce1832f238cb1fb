"""The worker API: what a remote worker (``dynalab-server worker``) asks the server, under ``/worker``.

A worker needs no database and no shared disk: it claims the job a Celery
message names, fetches what the job reads (the archive, the task's
definition, the dataset's inputs: never its targets) and posts what the job
reports. Every call carries the worker's token (``Authorization: Bearer``,
see ``dynalab.server.workers``) and, past the claim, the attempt's lease
token (``X-Dynalab-Lease``); a call whose lease is no longer held gets 409
and changes nothing. The server side of each report is the embedded
worker's ``LocalReport``, made for the request: the same lease checks, the
same moves, and the scoring of predictions against the gold targets here,
on the server.

    POST /worker/jobs/{id}/claim            -> {ticket, model_name, lease_seconds, heartbeat_seconds, ...}
    GET  /worker/jobs/{id}/archive          the uploaded .tar.gz
    GET  /worker/jobs/{id}/task             the task's definition (JSON)
    GET  /worker/jobs/{id}/inputs           the dataset's inputs, one JSON object a line
    POST /worker/jobs/{id}/{report}         heartbeat, log, deploying, deployed, evaluating,
                                            predictions, failed, lost; body {"log": text, ...}
"""

import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from dynalab.server import datasets, workers
from dynalab.server.db.models import Dataset, Job, Upload, Worker, utcnow
from dynalab.server.jobs import queue
from dynalab.server.jobs.executor import describe
from dynalab.server.jobs.local import LocalReport, LocalSource
from dynalab.server.jobs.protocol import FAILURE_CLASSES, HEARTBEAT_SECONDS, LeaseLost, Ticket
from dynalab.server.routes.dependencies import Catalog, Database, Executor, Settings
from dynalab.server.routes.models import MAX_ID

log = logging.getLogger("dynalab.server.workers")

router = APIRouter(prefix="/worker")

LEASE_HEADER = "X-Dynalab-Lease"
MAX_REPORT_BYTES = 2 * 1024 * 1024  # a log chunk, a failure (the worker sends its log in pieces)
MAX_PREDICTIONS_BYTES = 256 * 1024 * 1024  # every response of one dataset
ENDING = ("deployed", "predictions", "failed", "lost")
REPORTS = ("heartbeat", "log", "deploying", "deployed", "evaluating", "predictions", "failed", "lost")


def remote_worker(request: Request, db: Database):
    """The worker whose token is in the Authorization header; 401 otherwise (a user's token too)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "missing worker token: send `Authorization: Bearer <worker token>`",
                            headers={"WWW-Authenticate": "Bearer"})
    with db.session() as session:
        worker = workers.worker_for_token(session, token)
    if worker is None:
        raise HTTPException(401, "unknown worker token: the server's administrator issues one with "
                                 "`dynalab-server add-worker NAME`", headers={"WWW-Authenticate": "Bearer"})
    return worker


RemoteWorker = Annotated[Worker, Depends(remote_worker)]


@router.post("/jobs/{job_id}/claim")
def claim(job_id: int, worker: RemoteWorker, db: Database, settings: Settings):
    """Run job ``job_id`` under a new lease, if it is queued; 409 if it is not (another worker has
    it, or it ended: the worker drops the message)."""
    lease_seconds = settings.lease_seconds
    ticket = queue.claim(db, worker.name, lease_seconds, job_id=_known(job_id))
    _seen(db, worker)
    with db.session() as session:
        if ticket is None:
            job = session.get(Job, job_id)
            state = job.state if job else "unknown"
            raise HTTPException(409, f"job {job_id} is not queued (it is {state})")
        model = session.get(Upload, ticket.model_id)
        dataset = session.get(Dataset, ticket.dataset_id) if ticket.dataset_id else None
    log.info("job %d (model %d), attempt %d: claimed by worker %s", job_id, ticket.model_id, ticket.attempt,
             worker.name)
    return {"ticket": ticket.as_dict(), "model_name": model.name, "task_code": model.task_code,
            "sha256": model.sha256, "size": model.size, "max_unpacked_bytes": settings.max_unpacked_bytes,
            "worker": worker.name, "what": f"{describe(ticket, dataset.name if dataset else None)} on worker {worker.name}",
            "lease_seconds": lease_seconds, "heartbeat_seconds": min(HEARTBEAT_SECONDS, lease_seconds / 4)}


@router.get("/jobs/{job_id}/archive")
def archive(job_id: int, worker: RemoteWorker, request: Request, db: Database, settings: Settings,
            catalog: Catalog):
    source = LocalSource(db, settings, catalog, _held(db, worker, job_id, request))
    return FileResponse(source.archive_path(), media_type="application/gzip")


@router.get("/jobs/{job_id}/task")
def task_definition(job_id: int, worker: RemoteWorker, request: Request, db: Database, settings: Settings,
                    catalog: Catalog):
    source = LocalSource(db, settings, catalog, _held(db, worker, job_id, request))
    try:
        return source.task_definition()
    except LookupError as error:
        raise HTTPException(409, str(error))


@router.get("/jobs/{job_id}/inputs")
def dataset_inputs(job_id: int, worker: RemoteWorker, request: Request, db: Database, settings: Settings):
    """The dataset's examples without their targets, streamed: a dataset may not fit in memory twice."""
    ticket = _held(db, worker, job_id, request)
    if ticket.dataset_id is None:
        raise HTTPException(400, "a deploy job has no dataset")
    with db.session() as session:
        dataset = session.get(Dataset, ticket.dataset_id)
    if dataset is None:
        raise HTTPException(409, f"dataset {ticket.dataset_id} was removed")
    store = datasets.DatasetStore(settings.datasets_dir)
    lines = (json.dumps(example) + "\n" for example in datasets.dataset_inputs(store, dataset))
    return StreamingResponse(lines, media_type="application/x-ndjson")


@router.post("/jobs/{job_id}/{call}")
async def report(job_id: int, call: str, worker: RemoteWorker, request: Request, db: Database,
                 settings: Settings, catalog: Catalog, executor: Executor):
    """One report of the job (``REPORTS``); 409 once the lease is lost, nothing changed."""
    if call not in REPORTS:
        raise HTTPException(404, f"no such report {call!r} (known: {', '.join(REPORTS)})")
    body = await _json_body(request, MAX_PREDICTIONS_BYTES if call == "predictions" else MAX_REPORT_BYTES)
    answer = await run_in_threadpool(_report, db, settings, catalog, worker, job_id, request, call, body)
    if executor is not None and call in ENDING:
        executor.wake()  # the job may have queued others (a deployment queues the evaluations): send them now
    return answer


def _report(db, settings, catalog, worker, job_id, request, call, body):
    ticket = _held(db, worker, job_id, request)
    local = LocalReport(db, settings, catalog, ticket, lease_seconds=settings.lease_seconds, worker=worker.name)
    text = body.get("log") or ""
    if not isinstance(text, str):
        raise HTTPException(400, "log: must be text")
    try:
        if text:
            local.log(text)
        if call in ("heartbeat", "log"):
            local.heartbeat()
            if call == "heartbeat":
                _seen(db, worker)
        elif call == "predictions":
            responses = body.get("responses")
            if not isinstance(responses, dict):
                raise HTTPException(400, "responses: must be an object {uid: response}")
            try:
                local.predictions(responses, _number(body, "examples_per_second"),
                                  _number(body, "peak_memory_mb", optional=True))
            except ValueError as error:
                raise HTTPException(400, str(error))
        elif call == "failed":
            failure_class = body.get("failure_class")
            if failure_class not in FAILURE_CLASSES:
                raise HTTPException(400, f"failure_class: {failure_class!r} is not one of {', '.join(FAILURE_CLASSES)}")
            local.failed(failure_class, _text(body, "reason"), _text(body, "hint", optional=True))
        elif call == "lost":
            local.lost(_text(body, "reason"), counts=bool(body.get("counts", True)))
        else:
            getattr(local, call)()
    except LeaseLost as lost:
        raise HTTPException(409, f"lease lost: {lost}")
    return {"ok": True}


# --- inside -----------------------------------------------------------------------------------------

def _known(job_id):
    if not 0 < job_id <= MAX_ID:
        raise HTTPException(404, f"no job {job_id}")
    return job_id


def _held(db, worker, job_id, request):
    """The ticket of job ``job_id`` if the request's lease holds it for ``worker``; 409 otherwise."""
    lease = request.headers.get(LEASE_HEADER, "")
    if not lease:
        raise HTTPException(400, f"missing {LEASE_HEADER} header: claim the job first")
    with db.session() as session:
        job = session.get(Job, _known(job_id))
        if job is None or job.state != "running" or job.lease_token != lease or job.worker != worker.name:
            raise HTTPException(409, f"lease lost: job {job_id} is no longer held by this attempt")
        return Ticket(job_id=job.id, model_id=job.model_id, dataset_id=job.dataset_id, attempt=job.attempt,
                      lease_token=lease)


def _seen(db, worker):
    with db.session() as session:
        session.get(Worker, worker.id).last_seen_at = utcnow()
        session.commit()


async def _json_body(request, limit):
    """The request's JSON object, read up to ``limit`` bytes (413 past it)."""
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"the request body is larger than {limit} bytes")
        chunks.append(chunk)
    if not chunks:
        return {}
    try:
        body = json.loads(b"".join(chunks))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HTTPException(400, f"the body is not JSON: {error}")
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body


def _number(body, name, optional=False):
    value = body.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise HTTPException(400, f"{name}: must be a number, not {value!r}")
    return float(value)


def _text(body, name, optional=False):
    value = body.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise HTTPException(400, f"{name}: must be a non-empty text")
    return value
