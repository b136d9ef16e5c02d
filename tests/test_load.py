"""Load test of the served demo (``python -m demos.app``): several API clients at once, good and bad requests
mixed.

The app runs in a subprocess on a free local port (``start_app`` from tests/test_app.py) with its queue
(``default_concurrency_limit=2``). Every request must come back as valid audio or a clear error message; none
may be lost, and the server must still serve afterwards. Throughput and latency are printed, not asserted
(run with ``-s`` to see them). The requests are few on purpose: with the bundled model one note takes
~0.3-0.5 s on a laptop CPU, and ``/render`` renders three.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from test_app import HANDSAW, PIANO, assert_valid_wav, start_app, write_bad_file  # noqa: E402

pytestmark = pytest.mark.slow

CLIENTS, REQUESTS_PER_CLIENT = 4, 3
VIOLIN = PIANO.parent / "violin.ogg"


def make_jobs(tmp_path: Path) -> list[tuple]:
    """CLIENTS x REQUESTS_PER_CLIENT requests: (name, api_name, args, expected error words or None for audio)."""
    f = gradio_client.handle_file
    bad = {kind: write_bad_file(tmp_path, kind) for kind in ("text", "empty", "silent", "nan")}
    jobs = [
        ("render piano", "/render", (f(str(PIANO)), 64, 1, "synthesize"), None),
        ("mix piano+handsaw", "/mix", (f(str(PIANO)), f(str(HANDSAW)), 0.3, 60, "hyper", 1), None),
        ("text renamed .wav", "/render", (f(bad["text"]), 60, 1, "synthesize"), ["could not decode"]),
        ("mix violin+piano", "/mix", (f(str(VIOLIN)), f(str(PIANO)), 0.5, 72, "encoder", 0), None),
        ("empty file", "/mix", (f(bad["empty"]), f(str(PIANO)), 0.5, 60, "gan", 0), ["empty"]),
        ("reconstruct violin", "/render", (f(str(VIOLIN)), 60, 0, "reconstruct"), None),
        ("silent", "/render", (f(bad["silent"]), 60, 1, "synthesize"), ["silent"]),
        ("mix weight 1.5", "/mix", (f(str(PIANO)), f(str(HANDSAW)), 1.5, 60, "gan", 0), ["maximum"]),
        ("mix gan", "/mix", (f(str(HANDSAW)), f(str(VIOLIN)), 0.7, 48, "gan", 0), None),
        ("nan samples", "/mix", (f(str(PIANO)), f(bad["nan"]), 0.5, 60, "gan", 0), ["second sound", "nan"]),
        ("pitch 120", "/render", (f(str(PIANO)), 120, 1, "synthesize"), ["maximum"]),
        ("A/B pair", "/ab_render", (f(str(PIANO)), "hyper-gan", 60, 1), None),
    ]
    assert len(jobs) == CLIENTS * REQUESTS_PER_CLIENT
    return jobs


def check_outputs(api_name: str, outputs) -> None:
    """The audio of a successful response: every WAV valid."""
    if api_name == "/render":
        wavs = outputs[1:-1:2]
        assert len(wavs) == 5 and "MIDI" in outputs[-1]  # the four quick methods and the pitch shift
    elif api_name == "/mix":
        wavs = [outputs[0]]
    else:  # /ab_render: (A, B, status); the trial stays on the server
        wavs = list(outputs[:2])
    for wav in wavs:
        assert_valid_wav(wav)


def test_many_clients(tmp_path):
    jobs = make_jobs(tmp_path)
    results: list[dict] = []
    lock = threading.Lock()

    with start_app(tmp_path) as url:
        def client_session(index: int) -> None:
            client = gradio_client.Client(url, verbose=False, analytics_enabled=False,
                                          download_files=str(tmp_path / f"client{index}"))
            for name, api_name, args, words in jobs[index::CLIENTS]:
                t0 = time.perf_counter()
                try:
                    outputs, error = client.predict(*args, api_name=api_name), None
                except gradio_client.exceptions.AppError as exc:
                    outputs, error = None, str(exc)
                with lock:
                    results.append(dict(name=name, api=api_name, words=words, outputs=outputs, error=error,
                                        latency=time.perf_counter() - t0))

        start = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            for future in [pool.submit(client_session, i) for i in range(CLIENTS)]:
                future.result()  # re-raises anything but a clear AppError: a lost or garbled response
        wall = time.perf_counter() - start

        # the server still serves after the burst
        after = gradio_client.Client(url, verbose=False, analytics_enabled=False,
                                     download_files=str(tmp_path / "after"))
        check_outputs("/mix", after.predict(gradio_client.handle_file(str(PIANO)),
                                            gradio_client.handle_file(str(HANDSAW)), 0.5, 69, "gan", 0,
                                            api_name="/mix"))

    assert sorted(r["name"] for r in results) == sorted(job[0] for job in jobs)  # none lost
    for r in results:
        if r["words"] is None:
            assert r["error"] is None, f"{r['name']}: {r['error']}"
            check_outputs(r["api"], r["outputs"])
        else:
            assert r["error"] is not None, f"{r['name']} should have been refused"
            message = r["error"].lower()
            assert "traceback" not in message and len(message) < 300, r["error"]
            assert all(word in message for word in r["words"]), f"{r['name']}: {r['error']}"
    for r in sorted(results, key=lambda r: r["latency"]):
        print(f"  {r['latency']:6.2f} s  {r['name']:<20} {'refused: ' + r['error'] if r['error'] else 'audio'}")
    latencies = np.array([r["latency"] for r in results])
    print(f"\nload test: {len(results)} requests from {CLIENTS} clients in {wall:.1f} s = "
          f"{len(results) / wall:.2f} requests/s; latency p50 {np.percentile(latencies, 50):.2f} s, "
          f"p95 {np.percentile(latencies, 95):.2f} s, max {latencies.max():.2f} s")
