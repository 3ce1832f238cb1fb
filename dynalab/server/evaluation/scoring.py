"""The score of one model on one dataset: every metric its task names, from the responses.

The jobs call ``score(definition, predictions_by_uid, targets_by_uid)`` with the
responses a model gave to a dataset's examples (``{uid: response}``) and the dataset's
gold targets (``dataset_targets``: ``{uid: {target field: gold}}``). Every example of
the dataset is scored: one the model did not answer counts as wrong, and a response to
a uid the dataset does not have is ignored. ``examples_per_second`` and
``peak_memory_mb`` are measured by the jobs, not here.
"""

from dynalab.server.evaluation.metrics import compute


def metric_names(definition):
    """The task's main metric, then its others (``metrics: {main, others}``); [] if it names none."""
    metrics = definition.get("metrics")
    if not metrics:
        return []
    return [metrics["main"], *metrics.get("others", [])]


def score(definition, predictions_by_uid, targets_by_uid):
    """``{metric: value}`` for the task of ``definition`` over every example of ``targets_by_uid``."""
    uids = list(targets_by_uid)
    predictions = [predictions_by_uid.get(uid) for uid in uids]
    return compute(metric_names(definition), definition, predictions, [targets_by_uid[uid] for uid in uids])
