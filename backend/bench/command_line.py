"""What the two commands share on the command line: positive-number options, and SIGTERM taken like Ctrl-C."""

from __future__ import annotations

import argparse
import math
import signal


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def stop_cleanly_on_sigterm() -> None:
    """SIGTERM takes the same clean-up path as Ctrl-C: servers stopped, temporary directories removed."""
    signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
