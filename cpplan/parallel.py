"""Independent pieces of one search, run side by side: in this process, in worker processes, or on Ray.

:meth:`Workers.map` calls ``fn(shared, task)`` for every task and returns the results **in task
order**, whatever order they finish in, so that a caller that merges them in that order gets the
same answer with any number of workers. ``shared`` (the instance, and what every task reads) is
sent once per worker process, or put once into the Ray object store; each task is sent once.

- ``count == 1`` (the default): every task runs here, one after the other; no process is started.
- ``executor="local"``: ``count`` worker processes started with ``spawn``: a fresh interpreter
  that inherits nothing but what is sent (data, never an open file, socket or credential).
- ``executor="ray"``: Ray tasks, at most ``count`` in flight, on the cluster that
  ``RAY_ADDRESS`` names (``host:port`` of a running head node), else on a Ray started locally.

Ctrl-C: a worker process ignores it between tasks; a task that wants it (a CP-SAT search in a
:class:`~cpplan.budget.Interrupt`) gets it with the rest of the terminal's process group and keeps
its best so far. Given ``stop`` (the caller's Interrupt), :meth:`Workers.map` starts no further
task once it is requested: a task that never ran, or a Ray task cancelled, has the result None.

>>> import operator
>>> Workers(2).map(operator.add, 10, [1, 2, 3])      # 2 worker processes, the results in task order
[11, 12, 13]
>>> Workers.of(0)
Traceback (most recent call last):
cpplan.errors.InputError: workers: must be a whole number from 1, got 0
"""

from __future__ import annotations

import concurrent.futures
import importlib
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from .errors import InputError

EXECUTORS = ("local", "ray")
TICK = 0.1  # seconds between two looks at Ctrl-C while waiting for the workers

_shared = None  # what a worker process was sent once (set by _install)


def require_ray(key: str = "executor"):
    """The ``ray`` module, or a one-line :class:`InputError` (naming ``key``) saying how to install it."""
    try:
        return importlib.import_module("ray")
    except ModuleNotFoundError:
        raise InputError("", key, "ray is not installed: pip install cpplan[ray]") from None


def connect_ray(key: str = "executor"):
    """The ``ray`` module, connected to the cluster of ``RAY_ADDRESS`` (else a local one) once."""
    ray = require_ray(key)
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), log_to_driver=False)
    return ray


@dataclass(frozen=True)
class Workers:
    """How many tasks run at once (``count``), and where (``executor``: local processes or Ray)."""

    count: int = 1
    executor: str = "local"

    @classmethod
    def of(cls, count, executor: str = "local", source: str = "") -> Workers:
        """Checked: ``count`` a whole number from 1, ``executor`` one of :data:`EXECUTORS` (and ray
        installed when it is ray); else a one-line :class:`InputError`."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InputError(source, "workers", f"must be a whole number from 1, got {count!r}")
        if executor not in EXECUTORS:
            raise InputError(source, "executor", f"must be one of {', '.join(EXECUTORS)}, got {executor!r}")
        if executor == "ray":
            require_ray()
        return cls(count, executor)

    @property
    def parallel(self) -> bool:
        """Whether tasks run outside this process."""
        return self.count > 1

    def map(self, fn: Callable, shared, tasks: Iterable, stop=None) -> list:
        """``[fn(shared, task) for task in tasks]``, side by side; None for a task cut off by ``stop``.

        ``tasks`` is read lazily: each task is taken when a worker is free for it, so that it may
        depend on the time then (e.g. its share of the time left). ``fn`` must be importable by
        name (a module-level function) for worker processes to find it.
        """
        tasks = iter(tasks)
        if not self.parallel:
            return [None if _stopped(stop) else fn(shared, task) for task in tasks]
        backend = _Ray if self.executor == "ray" else _Processes
        with backend(fn, shared, self.count) as workers:
            return _dispatch(workers, tasks, self.count, stop)


SERIAL = Workers()


def _stopped(stop) -> bool:
    return stop is not None and stop.requested


def _dispatch(workers, tasks: Iterator, count: int, stop) -> list:
    """At most ``count`` tasks in flight, the next taken as one ends; the results in task order.
    Once ``stop`` is requested no task starts (the rest have the result None), and the running
    ones are told once (``workers.stop``)."""
    results: dict[int, object] = {}
    running: dict = {}
    n_tasks = 0
    for task in tasks:
        while len(running) >= count and not _stopped(stop):
            _collect(workers, running, results)
        if _stopped(stop):
            n_tasks += 1 + sum(1 for _ in tasks)  # counted, never run
            break
        running[workers.submit(task)] = n_tasks
        n_tasks += 1
    told = False
    while running:
        if _stopped(stop) and not told:
            workers.stop(list(running))
            told = True
        _collect(workers, running, results)
    return [results.get(i) for i in range(n_tasks)]


def _collect(workers, running: dict, results: dict) -> None:
    """Wait a moment for the tasks in flight; move the ended ones' results into ``results``."""
    for handle in workers.wait(list(running), TICK):
        results[running.pop(handle)] = workers.result(handle)


def _install(shared) -> None:
    """A worker process's start: keep what is shared, and ignore Ctrl-C between tasks."""
    global _shared
    _shared = shared
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _call(fn: Callable, task):
    return fn(_shared, task)


class _Processes:
    """Worker processes started with ``spawn``, each sent ``shared`` once (:func:`_install`)."""

    def __init__(self, fn: Callable, shared, count: int):
        self.fn = fn
        self.pool = concurrent.futures.ProcessPoolExecutor(
            max_workers=count, mp_context=multiprocessing.get_context("spawn"), initializer=_install,
            initargs=(shared,))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.pool.shutdown(wait=True, cancel_futures=True)
        return False

    def submit(self, task):
        return self.pool.submit(_call, self.fn, task)

    def wait(self, handles: list, timeout: float) -> set:
        return concurrent.futures.wait(handles, timeout=timeout, return_when="FIRST_COMPLETED")[0]

    def result(self, handle):
        return handle.result()

    def stop(self, handles: list) -> None:
        """Nothing to do: a running task hears Ctrl-C with the terminal's process group."""


class _Ray:
    """Ray tasks on the cluster of ``RAY_ADDRESS`` (else a local one), ``shared`` put once."""

    def __init__(self, fn: Callable, shared, count: int):
        ray = self.ray = connect_ray()
        self.remote, self.shared = ray.remote(fn), ray.put(shared)

    def __enter__(self):
        return self

    def __exit__(self, *exc):  # Ctrl-C, or an error: nothing more runs on the cluster
        return False

    def submit(self, task):
        return self.remote.remote(self.shared, task)

    def wait(self, handles: list, timeout: float) -> list:
        return self.ray.wait(handles, num_returns=1, timeout=timeout)[0]

    def result(self, handle):
        """The task's result, None when it was cancelled."""
        try:
            return self.ray.get(handle)
        except self.ray.exceptions.TaskCancelledError:
            return None

    def stop(self, handles: list) -> None:
        """Cancel the running tasks: on another node Ctrl-C does not reach them."""
        for handle in handles:
            self.ray.cancel(handle)
