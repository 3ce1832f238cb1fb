"""``from dynalab.tasks.common import BaseTaskIO``: the base class of the original Dynalab's first API.

Each task module of that API (``dynalab.tasks.nli`` and the others) derives its
``TaskIO`` from it; see ``dynalab.tasks.first_api``.
"""

from dynalab.tasks.first_api import BaseTaskIO

__all__ = ["BaseTaskIO"]
