"""Input checks: each takes a value read from a file, the file's name and the key, and either
returns the value in the form cpplan uses or raises a one-line :class:`InputError`.

Every value shown in an error goes through :func:`short_repr`, so an error is
one short line however long the bad value is. Numbers are finite (of float
range, neither NaN nor infinite) and never booleans; counts are non-negative
integers, and a count above :data:`MAX_COUNT` means the same as ``MAX_COUNT``
(unlimited), so that it fits an int64 array.

>>> number(4, "cloud.yaml", "vms.a.ram")
4
>>> number(-4, "cloud.yaml", "vms.a.ram")
Traceback (most recent call last):
...
cpplan.errors.InputError: cloud.yaml: vms.a.ram: must be a non-negative number, got -4
>>> number(10**30, "cloud.yaml", "limits.host", integer=True) == MAX_COUNT
True
>>> unknown_keys({"host": 1, "hots": 2}, ("host", "total"), "cloud.yaml", "limits.")
Traceback (most recent call last):
...
cpplan.errors.InputError: cloud.yaml: limits.hots: unknown key (expected one of: host, total)
>>> name_list(["h1", "h1"], "cloud.yaml", "drain", {"h1": 0}, "host")
Traceback (most recent call last):
...
cpplan.errors.InputError: cloud.yaml: drain[1]: host 'h1' listed twice
"""

from __future__ import annotations

import math
import sys
import unicodedata
from collections.abc import Mapping

from .errors import InputError

MAX_COUNT = 2**62  # a larger limit means "unlimited" just the same, and still fits an int64 array


def short_repr(value, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters for an error line.

    >>> short_repr(10**50)
    '1000000000000000000000000000000000000000...'
    """
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def finite_number(value) -> bool:
    """Whether ``value`` is a number (not a boolean) of float range, neither NaN nor infinite.

    >>> finite_number(1e308), finite_number(10**400), finite_number(float("nan")), finite_number(True)
    (True, False, False, False)
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def number(value, source: str, key: str, *, integer: bool = False) -> float:
    """A non-negative number (``integer``: a whole one, capped at :data:`MAX_COUNT`)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= sys.float_info.max
    if not ok or value < 0 or (integer and value != int(value)):
        kind = "a non-negative integer" if integer else "a non-negative number"
        raise InputError(source, key, f"must be {kind}, got {short_repr(value)}")
    return min(int(value), MAX_COUNT) if integer else value


def integer_between(value, source: str, key: str, *, minimum: int, maximum: int) -> int:
    """A whole number from ``minimum`` to ``maximum`` (a float such as 3.0 counts as 3).

    >>> integer_between(3.0, "exp.yaml", "repeat", minimum=1, maximum=10)
    3
    """
    if not finite_number(value) or not minimum <= value <= maximum or value != int(value):
        raise InputError(source, key, f"must be an integer from {minimum} to {maximum}, "
                         f"got {short_repr(value)}")
    return int(value)


def positive(value, source: str, key: str) -> float:
    """A number above 0."""
    x = number(value, source, key)
    if x <= 0:
        raise InputError(source, key, f"must be a positive number, got {short_repr(value)}")
    return x


def fraction(value, source: str, key: str) -> float:
    """A number from 0 to 1."""
    x = number(value, source, key)
    if x > 1:
        raise InputError(source, key, f"must be a fraction between 0 and 1, got {short_repr(value)}")
    return x


def boolean(value, source: str, key: str) -> bool:
    """``true`` or ``false``, nothing that merely looks like one (``1``, ``"yes"``)."""
    if not isinstance(value, bool):
        raise InputError(source, key, f"must be true or false, got {short_repr(value)}")
    return value


def given(value, empty):
    """``value``, or ``empty`` for an absent or blank key (None); a wrong type is left to be refused."""
    return empty if value is None else value


def mapping(value, source: str, key: str) -> Mapping:
    """``value`` when it is a mapping."""
    if not isinstance(value, Mapping):
        raise InputError(source, key, f"must be a mapping, got {type(value).__name__}")
    return value


def unknown_keys(data: Mapping, allowed, source: str, prefix: str) -> None:
    """Refuse the first key of ``data`` that is not in ``allowed``; ``prefix`` leads the key's name."""
    for k in data:
        if k not in allowed:
            raise InputError(source, f"{prefix}{k}", f"unknown key (expected one of: {', '.join(allowed)})")


def string_keys(data: Mapping, source: str, prefix: str) -> Mapping:
    """``data`` itself when every key is a string without control characters, line breaks or lone
    surrogates: names are strings (SPEC section 2), and they go into one-line messages and files."""
    for k in data:
        if not isinstance(k, str):
            raise InputError(source, f"{prefix}{k}", f"names must be strings, got {short_repr(k)} (quote it)")
        if any(unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") for c in k):
            raise InputError(source, prefix.rstrip("."),
                             f"name {short_repr(k)} has a control or invalid character")
    return data


def name_list(value, source: str, key: str, known: Mapping, what: str) -> list[str]:
    """A list of distinct names, each a key of ``known``; ``what`` says what they name (host, VM)."""
    if not isinstance(value, (list, tuple)):
        raise InputError(source, key, f"must be a list of {what} names")
    seen = set()
    for i, name in enumerate(value):
        if not isinstance(name, str) or name not in known:
            raise InputError(source, f"{key}[{i}]", f"unknown {what} {short_repr(name)}")
        if name in seen:
            raise InputError(source, f"{key}[{i}]", f"{what} {short_repr(name)} listed twice")
        seen.add(name)
    return list(value)
