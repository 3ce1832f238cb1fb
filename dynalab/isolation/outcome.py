"""What a backend reports about one run: exit status, output, and how it ended."""

import collections
from dataclasses import dataclass, field

from dynalab.isolation.launcher import PROBE
from dynalab.runtime.protocol import Event, read_events

KEPT_LINES = 5000  # of the model's own output; the full output is in the log file


@dataclass
class RunOutcome:
    """The end of one run of the launcher, in a sandbox or a container."""

    backend: str
    exit_code: int = None
    timed_out: bool = False
    oom_killed: bool = False
    isolated: bool = True  # False when the network could not be cut
    rootpath: str = ""  # ROOTPATH as the model saw it
    model_dir: str = ""
    memory_limit: str = None  # e.g. "16g" (Docker); None when unlimited
    notes: list = field(default_factory=list)
    probe_lines: list = field(default_factory=list)
    other_lines: collections.deque = field(default_factory=lambda: collections.deque(maxlen=KEPT_LINES))

    def add_line(self, line):
        """Sort one launcher output line: the probe's events, or everything else."""
        if line.startswith(PROBE):
            self.probe_lines.append(line[len(PROBE):])
        else:
            self.other_lines.append(line)

    @property
    def events(self):
        return [event for event in read_events(self.probe_lines) if event.get("event") != Event.LOG]

    @property
    def passed(self):
        done = [event for event in self.events if event["event"] == Event.DONE]
        return self.exit_code == 0 and bool(done) and done[-1].get("failed") == 0 and not self.timed_out


def copy_lines(stream, log, outcome):
    """Write every line of ``stream`` to ``log`` and sort it into ``outcome``."""
    for raw in stream:
        line = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        log.write(line if line.endswith("\n") else line + "\n")
        log.flush()
        outcome.add_line(line.rstrip("\n"))
