"""What one request of the app may cost, checked before any work, and how long it may run.

``BUDGET`` caps the work a request asks for (notes and seconds of a melody, keys of a keyboard or SFZ export, notes
of a morph, the size of a MIDI file); each ``check_*`` raises gr.Error stating the limit before anything is
decoded or rendered. ``guard_all`` wraps every queued handler of the app with ``guarded``: a visitor (a gradio
session) runs one request at a time, a request is stopped after ``BUDGET.time_limit_s`` seconds, and an unforeseen
failure is answered with a sentence, never a blank "Error".
"""
from __future__ import annotations

import ctypes
import functools
import inspect
import logging
import os
import threading
from dataclasses import dataclass
from typing import Callable

import gradio as gr
from gradio.context import LocalContext

from hyperlib.sound_design.melody import Note
from hyperlib.sound_design.sfz import key_regions

log = logging.getLogger("hyperlib.demo")


@dataclass(frozen=True)
class Budget:
    """Limits on one request. melody_notes: notes of a melody or MIDI file. melody_audio_s: seconds of audio its
    notes add up to (each note's duration plus the release, every one shaped and mixed). melody_length_s: the
    melody's length (last note's end plus the release). midi_bytes: size of an uploaded MIDI file (read before the
    notes are counted). keys: keys rendered by one keyboard or SFZ request (the regions of the range; the keys
    between are transposed). morph_notes: notes of a morph. time_limit_s: wall time of one request's handler."""

    melody_notes: int = 500
    melody_audio_s: float = 300.0
    melody_length_s: float = 120.0
    midi_bytes: int = 1 << 20
    keys: int = 48
    morph_notes: int = 15
    time_limit_s: float = 90.0


BUDGET = Budget()
BUSY = "Your previous request is still running; one request at a time per visitor. Please wait for it to finish."


def _refuse(message: str) -> None:
    raise gr.Error(message, print_exception=False)


def budget_text(budget: Budget = BUDGET) -> str:
    """The limits as a markdown sentence for the app's pages."""
    return (f"Limits per request: a melody of up to {budget.melody_notes} notes, {budget.melody_audio_s:.0f} s of "
            f"notes in all and {budget.melody_length_s:.0f} s long (MIDI files up to {budget.midi_bytes // 1024} KB); "
            f"up to {budget.keys} rendered keys for the keyboard or an SFZ instrument; up to {budget.morph_notes} "
            f"notes in a morph; {budget.time_limit_s:.0f} s of rendering; one request at a time per visitor.")


def check_melody(notes: list[Note], release_s: float, budget: Budget = BUDGET) -> None:
    """Raise gr.Error stating the limit when the notes (``hyperlib.sound_design.melody.Note``) exceed the budget."""
    if len(notes) > budget.melody_notes:
        _refuse(f"The melody has {len(notes)} notes; up to {budget.melody_notes} are rendered per request.")
    audio_s = sum(n.duration + release_s for n in notes)
    if audio_s > budget.melody_audio_s:
        _refuse(f"The melody's notes add up to {audio_s:.0f} s of audio; up to {budget.melody_audio_s:.0f} s are "
                "rendered per request. Shorten the notes or play fewer.")
    length = max(n.end for n in notes) + release_s
    if length > budget.melody_length_s:
        _refuse(f"The melody lasts {length:.0f} s; up to {budget.melody_length_s:.0f} s are rendered per request.")


def check_midi_file(path: str, budget: Budget = BUDGET) -> None:
    """Raise gr.Error stating the limit when the MIDI file at ``path`` is larger than the budget."""
    size = os.path.getsize(path)
    if size > budget.midi_bytes:
        _refuse(f"The MIDI file is {size // 1024} KB; files up to {budget.midi_bytes // 1024} KB are read.")


def check_keys(low, high, every, budget: Budget = BUDGET) -> None:
    """Raise gr.Error stating the limit when MIDI ``low``-``high`` sampled every ``every`` keys renders more keys
    than the budget; settings that are not whole numbers are left to the library, which names them."""
    values = (low, high, every)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values) or every < 1 or low > high:
        return
    count = len(key_regions(low, high, every))
    if count > budget.keys:
        _refuse(f"MIDI {low}-{high} every {every} key(s) renders {count} keys; up to {budget.keys} are rendered per "
                "request. Narrow the range or sample fewer keys (a larger 'every').")


def check_morph(nodes, budget: Budget = BUDGET) -> None:
    """Raise gr.Error stating the limit when a morph asks for more notes than the budget."""
    if isinstance(nodes, (int, float)) and not isinstance(nodes, bool) and nodes > budget.morph_notes:
        _refuse(f"A morph of {nodes} notes was asked for; up to {budget.morph_notes} are rendered per request.")


# -- every handler: one request per visitor at a time, a time limit, never a blank error ----------------------
class RequestTimeout(BaseException):
    """Raised inside a handler's thread when it has run for longer than its time limit (a BaseException, so that
    no ``except Exception`` on the way turns it into another message)."""


def _set_async_exc(thread_id: int, exc_type: type | None) -> None:
    """Raise ``exc_type`` in thread ``thread_id`` at its next Python instruction (None: take back a pending one)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exc_type) if exc_type else None)


class _Deadline:
    """A timer that raises RequestTimeout in the calling thread after ``seconds``, unless ``cancel`` comes first.

    The exception lands between two Python instructions of the handler (a network's forward pass finishes first),
    and ``cancel`` takes back one that was raised but not yet delivered, so it never escapes the handler.
    """

    def __init__(self, seconds: float):
        self.thread_id, self.lock, self.done = threading.get_ident(), threading.Lock(), False
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()

    def _fire(self) -> None:
        with self.lock:
            if not self.done:
                self.done = True
                _set_async_exc(self.thread_id, RequestTimeout)

    def cancel(self) -> None:
        self.timer.cancel()
        with self.lock:
            fired, self.done = self.done, True
            if fired:
                _set_async_exc(self.thread_id, None)


_running: set[str] = set()
_running_lock = threading.Lock()


def guarded(fn: Callable, budget: Budget = BUDGET) -> Callable:
    """``fn`` (a gradio handler) limited: a session with a request still running gets BUSY, the handler is stopped
    after ``budget.time_limit_s`` seconds with a message saying so, and an error other than gr.Error is logged and
    answered with a sentence. The wrapper keeps ``fn``'s signature (gradio's progress and request injection)."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        request = LocalContext.request.get(None)
        session = getattr(request, "session_hash", None)
        with _running_lock:
            if session is not None and session in _running:
                _refuse(BUSY)
            if session is not None:
                _running.add(session)
        try:
            deadline = _Deadline(budget.time_limit_s)
            try:
                return fn(*args, **kwargs)
            finally:
                deadline.cancel()
        except RequestTimeout:
            _refuse(f"The request ran for more than {budget.time_limit_s:.0f} s, the limit per request, and was "
                    "stopped. Ask for fewer notes or keys, or a quicker method.")
        except gr.Error:
            raise
        except Exception as exc:  # noqa: BLE001 - the visitor gets a sentence; the traceback goes to the log
            log.exception("%s failed", getattr(fn, "__name__", "a handler"))
            raise gr.Error(f"The request failed unexpectedly ({type(exc).__name__}); please try other settings or "
                           "another sound.", print_exception=False) from exc
        finally:
            if session is not None:
                with _running_lock:
                    _running.discard(session)

    return run


def guard_all(demo: gr.Blocks, budget: Budget = BUDGET) -> gr.Blocks:
    """Wrap every queued plain handler of ``demo`` with ``guarded``; returns ``demo``. Those run outside the queue
    (a slider that updates a dropdown) are instant and left as they are, and so are generators and coroutines,
    whose work happens after the call returns."""
    for dep in demo.fns.values():
        fn = dep.fn
        if fn is None or dep.queue is False or getattr(fn, "_request_limited", False):
            continue
        if inspect.iscoroutinefunction(fn) or inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            continue
        dep.fn = guarded(fn, budget)
        dep.fn._request_limited = True
    return demo
