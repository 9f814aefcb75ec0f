"""The greedy planner, round by round (:mod:`.search`), with its steps: what each VM aims at
(:mod:`.aim`), building one round (:mod:`.round`), breaking deadlocks by a bounce or a
step-aside (:mod:`.deadlock`) or offline (:mod:`.offline`), and dropping needless detours
(:mod:`.cleanup`)."""

from .search import plan

__all__ = ["plan"]
