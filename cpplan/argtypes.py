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


def seed(text: str) -> int:
    """argparse type for a solver seed: an integer from 0 to 2**31 - 1."""
    if not text.isdigit() or int(text) >= 2**31:
        raise argparse.ArgumentTypeError(f"must be an integer from 0 to {2**31 - 1}, got {text!r}")
    return int(text)
