"""Cyclic garbage collection paused while a large request is handled.

A 10,000-invoice batch allocates a few hundred thousand objects that all stay alive until the
answer is sent (models, rows, resources). CPython's cycle collector runs every 700 allocations
and walks them again and again as they age: about a third of a batch's CPU time went to it.
Those objects form no reference cycles, so reference counting frees them either way; the
collector is paused while any such request runs and resumes when the last one ends; cyclic
garbage that other threads made meanwhile is collected by its next regular run.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_running = 0
_was_enabled = True


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cycle collector for the duration of the block (counted across threads)."""
    global _running, _was_enabled
    with _lock:
        if _running == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _was_enabled:
                gc.enable()
