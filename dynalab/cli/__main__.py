"""``python -m dynalab.cli``: the same as ``dynalab-cli``."""

from dynalab.cli.main import main

main()
