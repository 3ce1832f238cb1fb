"""A task's leaderboard: its published models, their scores per scoring dataset, their averages and Dynascore.

``board(session, catalog, code, weights_text, sort, order)`` reads it all in
three queries and gives a ``Board``; the task page, ``GET
/tasks/{code}/leaderboard`` (``Board.as_json``) and the CSV download
(``Board.csv_rows``) all show that one object, so they never disagree.

Every published model is on the board. A model without a score on a
scoring dataset shows that dataset's state there (``pending`` or
``failed``); its averages, and so its Dynascore, are then missing too
(an average over fewer datasets than the columns suggest would mislead), and
it is ranked after the models that have one. Averages are the datasets'
``weight``-weighted means, as ``GET /models/{id}`` gives them.
"""

import json
import operator
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import func, select

from dynalab.server.db.models import Dataset, Evaluation, HistoryEntry, Upload, User, iso
from dynalab.server.evaluation import dynascore as ds
from dynalab.sizes import parse_size

DEFAULT_MEMORY = "16g"
PENDING, FAILED = "pending", "failed"
ORDERS = ("asc", "desc")


class BadQuery(ValueError):
    """Raised for weights or a sort the board cannot use; the message says what is wrong."""


@dataclass
class Cell:
    """One model's value in one column: a number, or the reason it has none (``pending``/``failed``)."""

    value: float = None
    state: str = None

    @property
    def missing(self):
        return self.value is None


@dataclass
class Row:
    model_id: int
    name: str
    owner: str
    status: str
    published_at: str
    datasets: dict  # dataset name -> {"status", "metrics", "examples_per_second", "peak_memory_mb"}
    averaged: dict  # metric name (and throughput, memory) -> Cell
    dynascore: Cell = field(default_factory=Cell)
    terms: dict = None  # metric -> value / AMRS, for the page's live weights
    rank: int = None

    def cell(self, column):
        if column.kind == "dataset":
            entry = self.datasets[column.dataset]
            value = entry["metrics"].get(column.metric)
            return Cell(value, None if value is not None else _state(entry["status"]))
        if column.kind == "metric":
            return self.averaged[column.metric]
        if column.key == "dynascore":
            return self.dynascore
        return Cell({"rank": self.rank, "model": self.name, "owner": self.owner}[column.key])


@dataclass(frozen=True)
class Column:
    key: str  # what ?sort= names
    label: str
    kind: str  # rank | text | dataset | metric | dynascore
    metric: str = None
    dataset: str = None
    short: str = None  # the header's text, under its group (default: the label)
    unit: str = None

    def __post_init__(self):
        if self.short is None:
            object.__setattr__(self, "short", self.label)

    @property
    def numeric(self):
        return self.kind != "text"

    @property
    def first_order(self):
        """The order a first click sorts in: best first."""
        if self.kind == "text" or self.key in ("rank", ds.MEMORY):
            return "asc"
        return "desc"


@dataclass
class Board:
    task: str
    name: str
    definition: dict
    main: str
    others: list
    scoring: list  # Dataset rows
    standard: list
    weights: dict
    default_weights: dict
    columns: list
    rows: list
    sort: str = "rank"
    order: str = "asc"

    def as_json(self):
        return {
            "task": self.task,
            "weights": self.weights,
            "main_metric": self.main,
            "datasets": [{"name": dataset.name, "weight": dataset.weight, "examples": dataset.examples}
                         for dataset in self.scoring],
            "sort": self.sort,
            "order": self.order,
            "models": [self._row_json(row) for row in self.rows],
        }

    def _row_json(self, row):
        complete = not any(cell.missing for cell in row.averaged.values())
        state = "complete" if complete else (FAILED if any(
            entry["status"] == FAILED for entry in row.datasets.values()) else PENDING)
        return {
            "rank": row.rank,
            "model_id": row.model_id,
            "name": row.name,
            "owner": row.owner,
            "status": row.status,
            "published_at": row.published_at,
            "scores": state,
            "dynascore": row.dynascore.value,
            "metrics": {name: cell.value for name, cell in row.averaged.items()
                        if name not in (ds.THROUGHPUT, ds.MEMORY) and not cell.missing},
            "examples_per_second": row.averaged[ds.THROUGHPUT].value,
            "peak_memory_mb": row.averaged[ds.MEMORY].value,
            "datasets": [{"name": name, **entry} for name, entry in row.datasets.items()],
        }

    def csv_rows(self):
        """The table as shown: a header, then one line per model ("pending"/"failed" where no value)."""
        yield ["model_id"] + [column.label for column in self.columns]
        for row in self.rows:
            cells = [row.cell(column) for column in self.columns]
            yield [row.model_id] + [cell.state if cell.missing and cell.state else
                                    ("" if cell.missing else cell.value) for cell in cells]


def board(session, catalog, code, weights_text=None, sort="rank", order=None):
    """The leaderboard of task ``code`` (in ``catalog``) with the given weights and sort."""
    definition = catalog.definitions[code]
    metrics = definition.get("metrics") or {}
    main, others = metrics.get("main", "accuracy"), list(metrics.get("others", []))
    defaults = ds.default_weights(main, others)
    try:
        weights = ds.parse_weights(weights_text, defaults)
    except ds.BadWeights as error:
        raise BadQuery(str(error)) from None
    datasets = session.scalars(select(Dataset).where(Dataset.task_code == code).order_by(Dataset.id)).all()
    scoring = [dataset for dataset in datasets if dataset.access == "scoring"]
    standard = [dataset for dataset in datasets if dataset.access == "standard"]
    rows = _rows(session, code, scoring, main, others)
    directions, offsets = ds.directions_and_offsets(main, others, memory_limit_mb(definition))
    points = [None if any(cell.missing for cell in row.averaged.values()) else
              {name: cell.value for name, cell in row.averaged.items()} for row in rows]
    for row, (score, terms) in zip(rows, ds.dynascores(points, main, weights, directions, offsets)):
        row.dynascore = Cell(score, None if score is not None else _missing_state(row))
        row.terms = terms
    ranked = sorted((row for row in rows if not row.dynascore.missing), key=lambda row: -row.dynascore.value)
    for rank, row in enumerate(ranked, 1):
        row.rank = rank
    columns = _columns(main, others, scoring)
    result = Board(code, definition.get("name", code), definition, main, others, scoring, standard, weights,
                   defaults, columns, rows)
    _sort(result, sort or "rank", order)
    return result


class BoardCache:
    """Boards already made, each kept while what it was made from is unchanged (``fingerprint``):
    a board of 1,000 models is read and scored once, then served until a score, a publication,
    a card or a dataset changes. Shared by the requests of one app (a lock guards it)."""

    def __init__(self, size=32):
        self.size = size
        self._boards = OrderedDict()
        self._lock = threading.Lock()

    def board(self, session, catalog, code, weights_text=None, sort="rank", order=None):
        key = (code, weights_text or "", sort or "rank", order or "")
        mark = fingerprint(session, code)
        with self._lock:
            hit = self._boards.get(key)
            if hit is not None and hit[0] == mark:
                self._boards.move_to_end(key)
                return hit[1]
        result = board(session, catalog, code, weights_text, sort, order)
        with self._lock:
            self._boards[key] = (mark, result)
            while len(self._boards) > self.size:
                self._boards.popitem(last=False)
        return result


def fingerprint(session, code):
    """What changes whenever task ``code``'s board would: every move of a model or an evaluation is a
    history row, publishing and card edits touch ``uploads.updated_at``, datasets come and go."""
    history = select(func.max(HistoryEntry.id)).scalar_subquery()
    published = select(func.count(), func.max(Upload.updated_at), func.max(Upload.published_at)).where(
        Upload.task_code == code, Upload.published.is_(True))
    datasets = select(func.count(), func.max(Dataset.id), func.sum(Dataset.weight)).where(Dataset.task_code == code)
    return (session.scalar(select(history)), *session.execute(published).one(), *session.execute(datasets).one())


def standing(boards, session, catalog, model):
    """Where a published ``model`` stands on its board (from ``boards``, a ``BoardCache``) with the default
    weights: (its Row, the number of models ranked), or None (not published, or a task the server no longer has)."""
    if not model.published or model.task_code not in catalog:
        return None
    result = boards.board(session, catalog, model.task_code)
    row = next((row for row in result.rows if row.model_id == model.id), None)
    return None if row is None else (row, sum(1 for other in result.rows if other.rank is not None))


def _rows(session, code, scoring, main, others):
    # Columns, not ORM objects: a board of 1,000 models reads 5,000 evaluations.
    models = session.execute(
        select(Upload.id, Upload.name, Upload.status, Upload.published_at, Upload.card_anonymous, User.email)
        .join(User, Upload.user_id == User.id)
        .where(Upload.task_code == code, Upload.published.is_(True)).order_by(Upload.id)).all()
    names = {dataset.id: dataset.name for dataset in scoring}
    evaluations = {}
    if scoring and models:
        for model_id, dataset_id, status, metrics, per_second, memory in session.execute(
                select(Evaluation.model_id, Evaluation.dataset_id, Evaluation.status, Evaluation.metrics,
                       Evaluation.examples_per_second, Evaluation.peak_memory_mb)
                .join(Upload, Evaluation.model_id == Upload.id)
                .where(Upload.task_code == code, Upload.published.is_(True),
                       Evaluation.dataset_id.in_(list(names)))):
            done = status == "done"
            evaluations[model_id, dataset_id] = {
                "status": status, "metrics": json.loads(metrics or "{}") if done else {},
                "examples_per_second": per_second if done else None, "peak_memory_mb": memory if done else None}
    weights = [(dataset.id, dataset.name, dataset.weight) for dataset in scoring]
    metric_names = ds.metric_names(main, others)
    rows = []
    for model_id, name, status, published_at, anonymous, email in models:
        entries = {dataset_name: evaluations.get((model_id, dataset_id)) or {
            "status": PENDING, "metrics": {}, "examples_per_second": None, "peak_memory_mb": None}
            for dataset_id, dataset_name, _ in weights}
        rows.append(Row(model_id, name, owner_name(anonymous, email), status,
                        iso(published_at) if published_at else None, entries,
                        _averaged(entries, weights, metric_names)))
    return rows


def owner_name(anonymous, email):
    """How a model's owner is shown: the email's name part (no address for spammers), or "anonymous"."""
    return "anonymous" if anonymous else email.partition("@")[0]


def _averaged(entries, weights, names):
    """{metric: Cell} of the weighted means over the scoring datasets (``weights``: (id, name, weight))."""
    total = sum(weight for _, _, weight in weights)
    if not weights or not total:
        return {name: Cell(None, PENDING) for name in names}
    missing = None
    for _, dataset_name, _ in weights:
        if entries[dataset_name]["status"] != "done":
            missing = FAILED if entries[dataset_name]["status"] == FAILED or missing == FAILED else PENDING
    if missing:
        return {name: Cell(None, missing) for name in names}
    shown = [entries[dataset_name] for _, dataset_name, _ in weights]
    factors = [weight for _, _, weight in weights]
    cells = {}
    for name in names:
        if name in (ds.THROUGHPUT, ds.MEMORY):
            values = [entry[name] for entry in shown]
        else:
            values = [entry["metrics"].get(name) for entry in shown]
        if None in values:
            cells[name] = Cell(None, PENDING)  # done, but without this metric (a task changed its metrics)
        else:
            cells[name] = Cell(sum(map(operator.mul, values, factors)) / total)
    return cells


def _missing_state(row):
    return FAILED if any(cell.state == FAILED for cell in row.averaged.values()) else PENDING


def _state(status):
    return FAILED if status == FAILED else PENDING


def _columns(main, others, scoring):
    columns = [Column("rank", "Rank", "rank"), Column("model", "Model", "text"), Column("owner", "Owner", "text")]
    columns += [Column(f"dataset:{dataset.name}", f"{dataset.name} ({main})", "dataset", main, dataset.name,
                       short=dataset.name) for dataset in scoring]
    columns += [Column(name, name, "metric", name) for name in others]
    columns += [Column(ds.THROUGHPUT, "Throughput (examples/s)", "metric", ds.THROUGHPUT, short="Throughput",
                       unit="examples/s"),
                Column(ds.MEMORY, "Memory (MB)", "metric", ds.MEMORY, short="Memory", unit="MB"),
                Column("dynascore", "Dynascore", "dynascore")]
    return columns


def _sort(result, key, order):
    column = next((column for column in result.columns if column.key == key), None)
    if column is None:
        raise BadQuery(f"sort: {key!r} is not a column; use one of {', '.join(c.key for c in result.columns)}")
    order = order or column.first_order
    if order not in ORDERS:
        raise BadQuery(f"order: {order!r}: use asc or desc")
    present = [row for row in result.rows if not row.cell(column).missing]
    missing = [row for row in result.rows if row.cell(column).missing]
    present.sort(key=lambda row: _sort_key(row.cell(column).value), reverse=order == "desc")
    # Rows without a value stay last whatever the order, by rank then upload: never dropped, never first.
    missing.sort(key=lambda row: (row.rank is None, row.rank or 0, row.model_id))
    result.rows, result.sort, result.order = present + missing, key, order


def _sort_key(value):
    return value.lower() if isinstance(value, str) else value


def memory_limit_mb(definition):
    limits = definition.get("limits") or {}
    return parse_size(limits.get("memory", DEFAULT_MEMORY)) / 2**20
