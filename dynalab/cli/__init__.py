"""``dynalab-cli``: the program (``main``), its invoke tasks (``commands``), help, usage errors and output.

``main`` is the one place where errors become output and exit codes.
"""

from dynalab.cli.main import main

__all__ = ["main"]
