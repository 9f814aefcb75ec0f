"""The errors cpplan raises on purpose.

>>> raise InputError("cloud.yaml", "vms.web1.ram", "must be a non-negative number, got -4")
Traceback (most recent call last):
...
cpplan.errors.InputError: cloud.yaml: vms.web1.ram: must be a non-negative number, got -4
"""


class InputError(ValueError):
    """Bad input: a file, key or value that cpplan cannot accept.

    The message is one line naming the source, the key and the problem.
    """

    def __init__(self, source: str, key: str, problem: str):
        self.source, self.key, self.problem = source, key, problem
        where = ": ".join(_one_line(part) for part in (source, key) if part)
        super().__init__(f"{where}: {_one_line(problem)}" if where else _one_line(problem))


MAX_PART = 500  # characters shown of a source, a key or a problem: a 1 MB name is cut, not printed


def _one_line(text: str) -> str:
    r"""``text`` with line breaks and other unprintable characters escaped, as ``repr`` shows them,
    cut to :data:`MAX_PART` characters.

    >>> _one_line("vms.a\nb: bad")
    'vms.a\\nb: bad'
    >>> len(_one_line("x" * 10**6))
    503
    """
    text = text[:MAX_PART + 1]
    escaped = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return escaped if len(escaped) <= MAX_PART else escaped[:MAX_PART] + "..."


class InvalidPlanError(RuntimeError):
    """A planner produced a plan that the validator rejects (a bug in cpplan, never bad input)."""

    def __init__(self, planner: str, violations: list[str]):
        self.planner, self.violations = planner, violations
        shown = "; ".join(violations[:3]) + (" ..." if len(violations) > 3 else "")
        super().__init__(f"internal error: planner {planner!r} built an invalid plan: {shown}")
