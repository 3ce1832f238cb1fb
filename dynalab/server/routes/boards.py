"""The public pages of tasks: ``/`` (the tasks), ``/tasks/{code}`` (a task and its leaderboard), and the
leaderboard as data: ``/tasks/{code}/leaderboard`` (JSON) and ``/tasks/{code}/leaderboard.csv``.

All of them take ``weights`` (``accuracy:4,examples_per_second:1``...), ``sort`` (a column's key)
and ``order`` (``asc``/``desc``); the page's weights form sends ``w.<metric>`` fields instead,
which are answered by a redirect to the same view with ``weights``, so every view has one address.
"""

import csv
import io
import json
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import func, select

from dynalab.server import leaderboard, web
from dynalab.server.db.models import Dataset, Upload
from dynalab.server.evaluation import dynascore as ds
from dynalab.server.routes.dependencies import Boards, Catalog, DbSession, Sessions
from dynalab.server.web.plot import Point, svg

router = APIRouter()

WEIGHT_FIELD = "w."
PAGE_SIZE = 100  # rows of the leaderboard per page (the downloads hold them all)


@router.get("/")
def home(request: Request, catalog: Catalog, session: DbSession, sessions: Sessions):
    published = dict(session.execute(select(Upload.task_code, func.count()).where(Upload.published.is_(True))
                                     .group_by(Upload.task_code)).all())
    datasets = dict(session.execute(select(Dataset.task_code, func.count()).where(Dataset.access != "hidden")
                                    .group_by(Dataset.task_code)).all())
    tasks = [{"code": code, "name": catalog.definitions[code].get("name", code),
              "description": catalog.definitions[code].get("description", ""),
              "models": published.get(code, 0), "datasets": datasets.get(code, 0)} for code in catalog.codes()]
    tasks.sort(key=lambda task: -task["models"])  # the tasks with leaderboards first (the sort is stable)
    return web.page("home.html", title="Tasks", root="", here="", tasks=tasks,
                    signed_in=signed_in(request, sessions, session))


@router.get("/tasks/{code}")
def task_page(code: str, request: Request, catalog: Catalog, session: DbSession, sessions: Sessions, boards: Boards):
    form_weights = {key[len(WEIGHT_FIELD):]: value for key, value in request.query_params.items()
                    if key.startswith(WEIGHT_FIELD)}
    if form_weights:  # the weights form, sent without JavaScript: one address per view
        text = ",".join(f"{name}:{value.strip() or 0}" for name, value in form_weights.items())
        query = {"weights": text, **{k: v for k in ("sort", "order") if (v := request.query_params.get(k))}}
        return RedirectResponse(f"{code}?{urlencode(query)}", status_code=303)
    result = _board(boards, session, catalog, code, request)
    if isinstance(result, Response):
        return result
    query = _query(result)
    pages = max(1, -(-len(result.rows) // PAGE_SIZE))
    page = request.query_params.get("page", "1")
    page = min(int(page), pages) if page.isdigit() and int(page) > 0 else 1
    start = (page - 1) * PAGE_SIZE
    shown = result.rows[start:start + PAGE_SIZE]
    page_links = {number: f"{code}?{_query(result, page=number)}" for number in range(1, pages + 1)}
    points = [Point(row.averaged[ds.THROUGHPUT].value, row.averaged[result.main].value, row.name,
                    f"../models/{row.model_id}") for row in result.rows if not row.dynascore.missing]
    labels = {name: name for name in result.weights}
    labels.update({result.main: f"{result.main} (main metric)", ds.THROUGHPUT: "Throughput", ds.MEMORY: "Memory"})
    sort_label = next(column.label for column in result.columns if column.key == result.sort)
    return web.page(
        "task.html", title=result.name, root="../", here=f"tasks/{code}", board=result, query=query,
        table_rows=_table(result, shown), pages=pages, page=page, page_links=page_links, first=start + 1,
        last=start + len(shown),
        sort_links={column.key: _sort_link(result, column) for column in result.columns},
        sort_label=sort_label, weight_labels=labels, fields=_fields(result.definition),
        memory_limit=leaderboard.memory_limit_mb(result.definition),
        plot=svg(points, "Throughput (examples/s)", result.main),
        signed_in=signed_in(request, sessions, session))


@router.get("/tasks/{code}/leaderboard")
def leaderboard_json(code: str, request: Request, catalog: Catalog, session: DbSession, boards: Boards):
    result = _board(boards, session, catalog, code, request, html=False)
    # A JSONResponse as it is: FastAPI's encoder would walk 1,000 models' dicts again first.
    return result if isinstance(result, Response) else JSONResponse(result.as_json())


@router.get("/tasks/{code}/leaderboard.csv")
def leaderboard_csv(code: str, request: Request, catalog: Catalog, session: DbSession, boards: Boards):
    result = _board(boards, session, catalog, code, request, html=False)
    if isinstance(result, Response):
        return result
    buffer = io.StringIO()
    csv.writer(buffer).writerows(result.csv_rows())
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{code}-leaderboard.csv"'})


def signed_in(request, sessions, session):
    return sessions.user(sessions.read(request), session) is not None


def _board(boards, session, catalog, code, request, html=True):
    if code not in catalog:
        if html:
            return web.page("message.html", 404, title="No such task", root="../", here="",
                            message=f"This server has no task {code!r}.")
        raise HTTPException(status_code=404, detail=f"unknown task {code!r} (this server has: "
                                                    f"{', '.join(catalog.codes())})")
    params = request.query_params
    try:
        return boards.board(session, catalog, code, params.get("weights"), params.get("sort") or "rank",
                                 params.get("order") or None)
    except leaderboard.BadQuery as error:
        if html:
            return web.page("message.html", 400, title="This view cannot be shown", root="../", here="",
                            message=f"{error}. Open the task's page without it to start again.")
        raise HTTPException(status_code=400, detail=str(error)) from None


def _table(result, rows):
    """Each row with its cells after rank, model and owner, as (CSS class, text), and its Dynascore terms:
    made here once rather than looked up cell by cell in the template (a board has 1,000 rows)."""
    columns = result.columns[3:]
    table = []
    for row in rows:
        cells = []
        for column in columns:
            cell = row.cell(column)
            if cell.missing:
                cells.append((f"num state {cell.state or ''}".strip(), cell.state or "—"))
            else:
                cells.append(("num dynascore" if column.key == "dynascore" else "num", web.number(cell.value)))
        table.append((row, cells, json.dumps(row.terms) if row.terms else None))
    return table


def _query(result, **changes):
    query = {"weights": ds.format_weights(result.weights), "sort": result.sort, "order": result.order, **changes}
    return urlencode(query)


def _sort_link(result, column):
    if column.key == result.sort:
        order = "asc" if result.order == "desc" else "desc"
    else:
        order = column.first_order
    return f"{result.task}?{_query(result, sort=column.key, order=order)}"


def _fields(definition):
    """The task's fields as the page lists them: what the model is given, what it answers."""
    config = definition.get("config") or {}
    outputs = {spec.get("name") for spec in config.get("output") or []}
    fields = []
    for spec in (config.get("context") or []) + (config.get("input") or []):
        scored = spec.get("name") in outputs
        fields.append(_field(spec, "output, scored against the gold one" if scored else "input"))
    named = {field["name"] for field in fields}
    fields += [_field(spec, "output") for spec in config.get("output") or [] if spec.get("name") not in named]
    return fields


def _field(spec, role):
    return {"name": spec.get("name", ""), "role": role, "type": spec.get("type", ""),
            "description": spec.get("description", ""), "labels": spec.get("labels")}
