"""argparse types shared by every command line of cpplan: a one-line error for a bad value.

>>> positive_seconds("2.5"), seed("7")
(2.5, 7)
>>> positive_seconds("0")
Traceback (most recent call last):
argparse.ArgumentTypeError: must be positive, got '0'
"""

from __future__ import annotations

import argparse


def positive_seconds(text: str) -> float:
    """argparse type for a positive number of seconds (one-line error otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
    return value


def jitter(text: str) -> float:
    """argparse type for a jitter: a number in [0, 1) (durations are drawn in [1 - j, 1 + j]).

    >>> jitter("0.5")
    0.5
    >>> jitter("1")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be a number in [0, 1), got '1'
    """
    return _number_where(text, lambda x: 0 <= x < 1, "a number in [0, 1)")


def cost_slack(text: str) -> float:
    """argparse type for a cost slack: a finite number from 0 (0.1: up to 10 % over the least cost).

    >>> cost_slack("0.1")
    0.1
    >>> cost_slack("-1")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: must be a finite number from 0, got '-1'
    """
    return _number_where(text, lambda x: 0 <= x < float("inf"), "a finite number from 0")


def _number_where(text: str, ok, expected: str) -> float:
    """``float(text)`` when ``ok`` holds for it, else a one-line error saying what was ``expected``
    (a text that is no number, or NaN, never holds)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not ok(value):
        raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")
    return value


def positive_count(text: str) -> int:
    """argparse type for a whole number from 1 up."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1, got {text!r}")
    return int(text)


def seed(text: str) -> int:
    """argparse type for a solver seed: an integer from 0 to 2**31 - 1."""
    if not text.isdigit() or int(text) >= 2**31:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to {2**31 - 1}, got {text!r}")
    return int(text)
