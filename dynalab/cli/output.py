"""Where a command's output goes: human lines, and the JSON objects of ``--json``.

Human lines go to stdout; once any step of the command asks for ``--json``,
they go to stderr and stdout holds the JSON objects alone (one line each, one
per step that asked), so a CI script can parse stdout as it is.
"""

import json
import sys


class Output:
    """The output of one command; ``json_wanted``: some step of it asked for ``--json``."""

    def __init__(self, json_wanted=False):
        self.json_wanted = json_wanted

    def say(self, line=""):
        print(line, file=sys.stderr if self.json_wanted else sys.stdout, flush=True)

    def result(self, result, flags):
        """Print ``result`` (a ``steps.results.Result``) as JSON if its step asked for it."""
        if flags.get("json"):
            print(json.dumps(result.as_json(), ensure_ascii=False, default=str), file=sys.stdout, flush=True)
