"""Evaluation datasets: their format (``examples``), their files (``store``) and rows (``records``).

What the jobs use::

    store = DatasetStore(settings.datasets_dir)
    for example in dataset_inputs(store, dataset): ...       # uid + inputs, streamed
    targets = dataset_targets(store, dataset)                 # {uid: {field: gold}}
    queue_evaluations_for_dataset(session, dataset)           # when a dataset is added
"""

from dynalab.server.datasets.examples import ExampleChecker
from dynalab.server.datasets.records import (
    ACCESS,
    NAME_PATTERN,
    datasets_of,
    delete_dataset,
    evaluation_counts,
    find_dataset,
    queue_evaluations_for_dataset,
)
from dynalab.server.datasets.store import DatasetStore, StoredDataset, dataset_inputs, dataset_targets

__all__ = [
    "ACCESS", "NAME_PATTERN", "DatasetStore", "ExampleChecker", "StoredDataset", "dataset_inputs",
    "dataset_targets", "datasets_of", "delete_dataset", "evaluation_counts", "find_dataset", "queue_evaluations_for_dataset",
]
