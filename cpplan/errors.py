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
        where = ": ".join(part for part in (source, key) if part)
        super().__init__(_one_line(f"{where}: {problem}" if where else problem))


def _one_line(text: str) -> str:
    r"""``text`` with line breaks and other unprintable characters escaped, as ``repr`` shows them.

    >>> _one_line("vms.a\nb: bad")
    'vms.a\\nb: bad'
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class InvalidPlanError(RuntimeError):
    """A planner produced a plan that the validator rejects (a bug in cpplan, never bad input)."""

    def __init__(self, planner: str, violations: list[str]):
        self.planner, self.violations = planner, violations
        shown = "; ".join(violations[:3]) + (" ..." if len(violations) > 3 else "")
        super().__init__(f"internal error: planner {planner!r} built an invalid plan: {shown}")
