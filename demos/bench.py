"""Latency benchmark of the served Gradio app (``python -m hyperlib bench-app``, in the repository root).

It first times the "Play" handler (``render_all``: three methods, four log-mel pictures) called in-process, then
starts the app (``python -m demos.app``) on a free local port and sends the same requests through
``gradio_client`` with the real recordings in ``examples/``: one client in a row, then several clients at once,
each run once with the answers' files downloaded (gradio_client's default) and once answer only. It prints the
latency p50/p95 (seconds, at the client, upload included) and the throughput (requests/s) of each run, and a
per-stage breakdown of a request from the server's own timings (the app's ``/timings`` endpoint: decoding, the
shared inversion, each method's networks, vocoder, plots, WAV writing; medians over a few requests), with
"transport" the client's wall time minus the handler's (upload, queue, gradio's pre- and post-processing,
download).

``soak`` (``python -m hyperlib bench-app --soak N``) sends N mixed requests, hostile uploads and requests over
the app's budgets among them, one after the other to a local app, and reports the server's resident memory (RSS,
from ``/proc``, so Linux only) as it goes: after the first 100 requests and at the end.

``serve_app`` (start the app, wait until it answers, always stop it) is shared with the tests.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from hyperlib.config import REFINE_STEPS

from . import EXAMPLES_DIR, ROOT

APP_COMMAND = ("-m", "demos.app")
"""The arguments of ``python`` that start the app, in ``ROOT`` (a Space's own ``app.py`` is started as ``app.py``)."""
RECORDINGS = [EXAMPLES_DIR / name for name in ("violin.ogg", "piano_c4.aif", "trumpet.ogg", "handsaw.ogg")]
PITCHES = (60, 64, 67, 72)
"""Request i renders RECORDINGS[i % 4] at PITCHES[i % 4] (synthesize mode, the default refinement steps)."""
STARTUP_TIMEOUT_S = 180


class AppStartError(RuntimeError):
    """The app exited or did not answer in time; the message ends with the tail of its log."""


class AppURL(str):
    """The URL of an app started by ``serve_app``, with ``pid``, the process id of the server."""

    pid: int


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(workdir: str | os.PathLike, command: Sequence[str] = APP_COMMAND, timeout_s: float = STARTUP_TIMEOUT_S,
              env: dict | None = None, python: str | os.PathLike = sys.executable, cwd: str | os.PathLike = ROOT):
    """``python COMMAND`` (default: this interpreter, ``-m demos.app``) in ``cwd`` (default: the folder that holds
    this package) on a free local port, gradio's cache and the log (``app.log``) in ``workdir``.

    Yields the app's URL (an ``AppURL``, with the server's ``pid``) once it answers HTTP 200; the process is always
    stopped (SIGTERM, then SIGKILL after 20 s) on exit. ``env``: the
    environment the app's own settings are added to (default: this process's). Raises AppStartError when
    the app exits or does not answer within ``timeout_s`` seconds.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**(os.environ if env is None else env), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "GRADIO_TEMP_DIR": str(workdir / "gradio")}
    log = workdir / "app.log"
    with open(log, "w") as out:
        process = subprocess.Popen([str(python), *map(str, command)], cwd=cwd, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    url = AppURL(f"http://127.0.0.1:{port}/")
    url.pid = process.pid
    try:
        wait_until_up(url, process, log, timeout_s)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """Poll ``url`` until it answers HTTP 200. Raises AppStartError (with the tail of ``log``) when ``process``
    exits first or ``timeout_s`` seconds pass."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AppStartError(f"the app exited with code {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise AppStartError(f"the app did not answer within {timeout_s:.0f} s:\n{log.read_text()[-3000:]}")


@dataclass
class Run:
    """Client-side latencies (s) of one run, its wall time (s) and the requests that failed (name: error)."""

    latencies: list[float]
    wall_s: float
    failures: list[str]

    def summary(self, label: str) -> str:
        lat = np.array(self.latencies) if self.latencies else np.array([np.nan])
        n = len(self.latencies) + len(self.failures)
        return (f"{label}: {n} requests, {len(self.failures)} failed, p50 {np.percentile(lat, 50):.2f} s, "
                f"p95 {np.percentile(lat, 95):.2f} s, throughput {len(self.latencies) / self.wall_s:.2f} requests/s")


def request_args(i: int) -> tuple[str, int]:
    """The i-th request's (recording path, MIDI pitch)."""
    return str(RECORDINGS[i % len(RECORDINGS)]), PITCHES[i % len(PITCHES)]


RENDERED_SOUNDS = 5
"""WAVs in a /render answer: GANStrument, GANStrument Enc., HyperGANStrument, faithful and the pitch shift."""

def check_render(outputs, downloaded: bool = True) -> None:
    """A /render answer: five WAVs (the four quick methods and the plain pitch shift; downloaded files, or URLs
    ending in .wav) and the summary.

    Raises AssertionError otherwise.
    """
    wavs = outputs[1:-1:2]
    assert len(wavs) == RENDERED_SOUNDS, outputs
    if downloaded:
        assert all(Path(w).is_file() for w in wavs), wavs
    else:
        assert all(w["url"].endswith(".wav") for w in wavs), wavs
    assert "MIDI" in outputs[-1], outputs[-1]


def local_client(url: str, download_dir: Path | None):
    """A ``gradio_client.Client`` of the app at ``url`` (plain HTTP on this machine) that downloads the answers'
    files into ``download_dir`` (None: it does not download them).

    Certificates are not loaded (``ssl_verify=False``): there are none to check on a local HTTP server, and
    loading the CA bundle for each of the ~10 connections of a request (upload, queue, events, 7 downloads)
    costs the client about 36 ms of CPU each, which would be counted as the app's transport time.
    """
    from gradio_client import Client

    return Client(url, verbose=False, analytics_enabled=False, ssl_verify=False,
                  download_files=str(download_dir) if download_dir else False)


def run_clients(url: str, clients: int, requests_per_client: int, download_dir: Path | None) -> Run:
    """``clients`` gradio_client sessions at once, each sending ``requests_per_client`` /render requests.

    With ``download_dir`` each answer's files (3 WAVs, 4 PNGs) are downloaded there, one after the other as
    gradio_client does; with None a request ends when the answer (with the files' URLs) has arrived.
    """
    from gradio_client import handle_file

    latencies, failures, lock = [], [], threading.Lock()

    def session(index: int) -> None:
        client = local_client(url, download_dir / f"c{index}" if download_dir else None)
        for k in range(requests_per_client):
            path, pitch = request_args(index + k * clients)
            t0 = time.perf_counter()
            try:
                check_render(client.predict(handle_file(path), pitch, REFINE_STEPS, "synthesize", api_name="/render"),
                             downloaded=download_dir is not None)
                with lock:
                    latencies.append(time.perf_counter() - t0)
            except Exception as exc:  # noqa: BLE001 - a lost or bad answer is counted and reported, not raised
                with lock:
                    failures.append(f"{Path(path).name}: {exc!r}"[:300])

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(session, i) for i in range(clients)]:
            future.result()
    return Run(latencies, time.perf_counter() - start, failures)


def stage_breakdown(url: str, download_dir: Path, requests: int = 5) -> tuple[float, dict | None]:
    """``requests`` /render requests in a row on an idle server, files downloaded: (median client wall time in s,
    median of the server's stage timings in ms, per stage, or None when the app has no ``/timings`` endpoint).
    """
    from gradio_client import handle_file

    client = local_client(url, download_dir / "breakdown")
    walls, timings = [], []
    for i in range(requests):
        path, pitch = request_args(i)
        t0 = time.perf_counter()
        check_render(client.predict(handle_file(path), pitch, REFINE_STEPS, "synthesize", api_name="/render"))
        walls.append(time.perf_counter() - t0)
        try:
            timings.append(client.predict(api_name="/timings"))
        except ValueError:  # gradio_client: no such endpoint
            pass
    medians = {stage: float(np.median([t[stage] for t in timings])) for stage in timings[0]} if timings else None
    return float(np.median(walls)), medians


def in_process_times(requests: int) -> list[float]:
    """Seconds per call of the app's ``render_all`` in this process (the app module imported, not served)."""
    from . import app

    app.configure_threads()  # as the served app: its share of the cores
    app.render_all(*request_args(0), REFINE_STEPS)  # warm-up
    times = []
    for i in range(requests):
        t0 = time.perf_counter()
        app.render_all(*request_args(i), REFINE_STEPS)
        times.append(time.perf_counter() - t0)
    return times


def format_breakdown(wall_s: float, timings: dict | None) -> str:
    """The per-stage table of a request: stage, milliseconds, share of the client's wall time."""
    wall_ms = wall_s * 1000
    if not timings:
        return f"one request (median): {wall_ms:.0f} ms at the client; the server reports no stage timings"
    rows = [(stage, ms) for stage, ms in timings.items() if stage != "total"]
    rows.append(("transport (client wall - handler)", wall_ms - timings["total"]))
    lines = [f"one request (median per stage): {wall_ms:.0f} ms at the client, {timings['total']:.0f} ms in the "
             "handler"]
    lines += [f"  {stage:<36} {ms:7.1f} ms  {100 * ms / wall_ms:5.1f}%" for stage, ms in rows]
    return "\n".join(lines)


def bench_app(clients: int = 4, requests: int = 12, in_process: bool = True) -> dict:
    """Run the whole benchmark and print it; returns the numbers as a dict (seconds, requests/s, ms).

    ``requests``: requests of each one-client run (and of the in-process timing); each concurrent run sends
    ``requests // 2`` requests per client (at least one), ``clients`` clients at once. Every run is done twice:
    with the answers' files downloaded as gradio_client does by default (one after the other), and answer only
    (a browser fetches the files itself, in parallel).
    """
    out: dict = {"conditions": f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start"}
    print(out["conditions"])
    if in_process:
        times = in_process_times(requests)
        out["in_process"] = {"p50_s": float(np.median(times)), "p95_s": float(np.percentile(times, 95))}
        print(f"in-process render_all: {requests} calls, p50 {np.median(times):.2f} s, "
              f"p95 {np.percentile(times, 95):.2f} s (steps {REFINE_STEPS})")
    with tempfile.TemporaryDirectory(prefix="hyperlib-bench-") as tmp, serve_app(tmp) as url:
        tmp = Path(tmp)
        for n, per_client in ((1, requests), (clients, max(1, requests // 2))):
            for label, download_dir in (("files downloaded", tmp), ("answer only", None)):
                run, name = run_clients(url, n, per_client, download_dir), f"{n} client{'s' if n > 1 else ''}, {label}"
                print(run.summary(name))
                for failure in run.failures:
                    print(f"  failed: {failure}")
                lat = run.latencies or [float("nan")]
                out[name] = {
                    "p50_s": float(np.percentile(lat, 50)), "p95_s": float(np.percentile(lat, 95)),
                    "throughput_rps": len(run.latencies) / run.wall_s, "failures": len(run.failures)}
        wall, timings = stage_breakdown(url, tmp)
        print(format_breakdown(wall, timings))
    out["breakdown"] = {"wall_ms": wall * 1000, "timings_ms": timings}
    return out


# -- soak: the server's memory over many mixed requests --------------------------------------------------------
def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory (MB) of process ``pid`` from ``/proc/PID/status`` (Linux): now ("VmRSS") or its peak so far
    ("VmHWM")."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise OSError(f"/proc/{pid}/status has no {field} line")


def hostile_files(folder: Path) -> dict[str, str]:
    """Uploads a hostile visitor might send, written into ``folder``: {kind: path}. "wide-flac": 8 channels at
    384 kHz for 23 s (more than the frames decoded), "fast-flac": 655,350 Hz (refused from the header), "text":
    text renamed .wav, "empty": an empty file, "nan": a WAV with NaN samples."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    files = {kind: str(folder / name) for kind, name in (("wide-flac", "wide.flac"), ("fast-flac", "fast.flac"),
                                                          ("text", "text.wav"), ("empty", "empty.wav"),
                                                          ("nan", "nan.wav"))}
    t = np.arange(384000) / 384000
    second = np.repeat((0.5 * np.sin(2 * np.pi * 440 * t))[:, None], 8, axis=1).astype(np.float32)
    with sf.SoundFile(files["wide-flac"], "w", 384000, 8, subtype="PCM_16", format="FLAC") as f:
        for _ in range(23):
            f.write(second)
    sf.write(files["fast-flac"], np.full((65535, 8), 0.25, np.float32), 655350, format="FLAC")
    Path(files["text"]).write_text("this is not audio\n" * 50)
    Path(files["empty"]).write_bytes(b"")
    nan = np.sin(np.linspace(0, 800, 16000)).astype(np.float32)
    nan[100:200] = np.nan
    sf.write(files["nan"], nan, 16000, subtype="FLOAT")
    return files


def soak_requests(files: dict[str, str]) -> list[tuple[str, str, tuple]]:
    """One round of mixed requests: (name, api_name, arguments); the hostile ones are answered with a message."""
    from gradio_client import handle_file

    piano, handsaw, violin, trumpet = (handle_file(str(p)) for p in
                                       (RECORDINGS[1], RECORDINGS[3], RECORDINGS[0], RECORDINGS[2]))
    bad = {kind: handle_file(path) for kind, path in files.items()}
    return [
        ("play", "/render", (piano, 60, 1, "synthesize", "ddsp")),
        ("mix", "/mix", (violin, trumpet, 0.5, 67, "gan", 0)),
        ("8 ch 384 kHz FLAC", "/render", (bad["wide-flac"], 60, 1, "synthesize", "ddsp")),
        ("melody", "/melody", (violin, "60:0:0.3,64:0.3:0.3,67:0.6:0.6", None, 0.15, 1)),
        ("655 kHz FLAC", "/render", (bad["fast-flac"], 60, 1, "synthesize", "ddsp")),
        ("melody over budget", "/melody", (violin, ",".join(f"{60 + i}:0:299" for i in range(20)), None, 0.15, 1)),
        ("text as WAV", "/mix", (bad["text"], piano, 0.5, 60, "gan", 0)),
        ("keyboard", "/keyboard", (handsaw, "gan", "harmonic-noise", 58, 64, 3, 0)),
        ("empty file", "/render", (bad["empty"], 60, 1, "synthesize", "ddsp")),
        ("SFZ, 300-character name", "/export_sfz", (trumpet, 60, 64, 4, "x" * 300, 0)),
        ("NaN samples", "/render", (bad["nan"], 60, 1, "synthesize", "ddsp")),
        ("keys over budget", "/keyboard", (handsaw, "gan", "harmonic-noise", 21, 108, 1, 0)),
    ]


def soak(n: int = 300, workdir: str | os.PathLike | None = None, every: int = 50) -> dict:
    """Send ``n`` mixed requests (``soak_requests``, in turn) one after the other to a freshly started local app and
    print the server's RSS every ``every`` requests; returns {"rss_mb": [RSS after each request], "start_mb",
    "after_100_mb", "end_mb", "max_mb", "peak_mb" (the highest RSS at any moment, during requests too),
    "growth_after_100_mb", "answers", "messages", "lost", "seconds"}.

    A request counts as answered with audio, answered with a message (gradio's error, as for the hostile ones), or
    lost (no answer); the app is bounded by ``n`` and by its own budgets. ``workdir`` (default: a new temporary
    folder) holds the hostile files, gradio's cache and the app's log.
    """
    from gradio_client.exceptions import AppError

    if n < 1:
        raise ValueError(f"--soak needs at least 1 request, got {n}.")
    with tempfile.TemporaryDirectory(prefix="hyperlib-soak-") as tmp:
        folder = Path(workdir) if workdir else Path(tmp)
        requests = soak_requests(hostile_files(folder / "uploads"))
        with serve_app(folder / "app") as url:
            client = local_client(url, None)
            start = rss_mb(url.pid)
            print(f"server RSS after start-up and warm-up: {start:.0f} MB")
            rss, counts, t0 = [], {"answers": 0, "messages": 0, "lost": 0}, time.perf_counter()
            for i in range(n):
                name, api_name, args = requests[i % len(requests)]
                try:
                    client.predict(*args, api_name=api_name)
                    counts["answers"] += 1
                except AppError:
                    counts["messages"] += 1
                except Exception as exc:  # noqa: BLE001 - a lost answer is counted and shown, not raised
                    counts["lost"] += 1
                    print(f"  request {i + 1} ({name}) lost: {exc!r}"[:300])
                rss.append(rss_mb(url.pid))
                if (i + 1) % every == 0 or i + 1 == n:
                    print(f"after {i + 1:5d} requests: RSS {rss[-1]:7.0f} MB (max so far {max(rss):.0f} MB)")
            peak = rss_mb(url.pid, "VmHWM")
    after_100 = rss[min(99, n - 1)]
    out = {"rss_mb": rss, "start_mb": start, "after_100_mb": after_100, "end_mb": rss[-1], "max_mb": max(rss),
           "peak_mb": peak, "growth_after_100_mb": rss[-1] - after_100, "seconds": time.perf_counter() - t0, **counts}
    print(f"{n} requests in {out['seconds']:.0f} s: {counts['answers']} answered with audio, {counts['messages']} "
          f"with a message, {counts['lost']} lost; RSS {start:.0f} MB at the start, {after_100:.0f} MB after "
          f"{min(100, n)} requests, {rss[-1]:.0f} MB at the end (max {max(rss):.0f} MB between requests, peak "
          f"{peak:.0f} MB during them): {out['growth_after_100_mb']:+.0f} MB after the first {min(100, n)}")
    return out
