"""Dynalab: take a model project from a laptop to a leaderboard.

This package is imported inside the model's sandbox and container too, so this
module and the parts used there (``errors``, ``files``, ``tasks``, ``handler``,
``runtime``: see ``isolation.workspace.RUNTIME_PARTS``) import nothing outside
the standard library.
"""

__version__ = "0.2.0"
