"""An append-only journal of an execution: one JSON object per line, flushed and synced at once.

Every migration gets a ``start`` line before nova is asked and an end line
(``finished``, ``failed``, ``elsewhere``, ``vanished``, ``timeout`` or
``abandoned``) once its outcome is known, so an interrupted run never leaves a
migration unrecorded. A request that nova answered with a transient error gets
a line in between saying what a second look found: ``accepted`` (it migrates
all the same) or ``unconfirmed`` (the server could not be read; still watched).
A plan carried out by its ``after`` order gets one ``order`` line, and each of
its ``start`` lines the migration's ``index`` in the plan; round by round, a
``round`` line opens each round. Every ``start`` line names its plan and round.

>>> import tempfile, os, json
>>> path = os.path.join(tempfile.mkdtemp(), "run.jsonl")
>>> with Journal(path) as j:
...     _ = j.write("start", vm="web1", to="c2")
>>> [(r["event"], r["vm"]) for r in read_journal(path)]
[('start', 'web1')]
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone


class Journal:
    """Append JSON lines to ``path`` (created at the first line); each line is written in one call,
    flushed and fsynced."""

    def __init__(self, path):
        self.path = path
        self._file = None

    def write(self, event: str, **fields) -> dict:
        record = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "event": event,
                  **fields}
        if self._file is None:
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self._file.write(json.dumps(record, sort_keys=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        return record

    def close(self) -> None:
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_journal(path) -> list[dict]:
    """The records of a journal file, oldest first."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
