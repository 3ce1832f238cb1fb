"""Scoring a model's predictions on a dataset: the metrics (``metrics``) and the score of
one evaluation (``scoring.score``), computed on the server's side, where the gold targets are."""

from dynalab.server.evaluation.metrics import compute
from dynalab.server.evaluation.scoring import metric_names, score

__all__ = ["compute", "metric_names", "score"]
