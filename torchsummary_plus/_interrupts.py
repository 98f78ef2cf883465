"""Ctrl-C held while the model is being changed or put back, delivered once it is whole.

Python drops an exception raised while it closes a generator left half-way ("Exception
ignored in"), a KeyboardInterrupt whose handler happens to run there included: the
package's own steps use loops and lists rather than abandoned generators (``any(...)``
over a generator that stops early is one).
"""
from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def interrupts_held() -> Iterator[None]:
    """SIGINT arriving inside is held, then delivered to the handler it was meant for (by
    default: KeyboardInterrupt) on the way out. Signals reach the main thread only, so
    elsewhere this holds nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: Any) -> None:
        received.append(signum)

    try:
        previous = signal.signal(signal.SIGINT, hold)
    except (ValueError, TypeError):  # no signals here (an embedded interpreter)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            if previous is signal.default_int_handler:
                raise KeyboardInterrupt
            signal.raise_signal(signal.SIGINT)
