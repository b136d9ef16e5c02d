"""Latency benchmark of the served Gradio app (``python -m hyperlib bench-app``).

It first times the "Play" handler (``render_all``: three methods, four log-mel pictures) called in-process, then
starts ``demos/app.py`` on a free local port and sends the same requests through ``gradio_client`` with the real
recordings in ``examples/``: one client in a row, then several clients at once, each run once with the answers'
files downloaded (gradio_client's default) and once answer only. It prints the latency p50/p95 (seconds, at the
client, upload included) and the throughput (requests/s) of each run, and a per-stage breakdown of a request
from the server's own timings (the app's ``/timings`` endpoint: decoding, the shared inversion, each method's
networks, vocoder, plots, WAV writing; medians over a few requests), with "transport" the client's wall time
minus the handler's (upload, queue, gradio's pre- and post-processing, download).

``serve_app`` (start the app, wait until it answers, always stop it) is shared with the tests.
"""
from __future__ import annotations

import importlib.util
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

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
APP_PATH = REPO_ROOT / "demos" / "app.py"
RECORDINGS = [REPO_ROOT / "examples" / name for name in ("violin.ogg", "piano_c4.aif", "trumpet.ogg", "handsaw.ogg")]
PITCHES = (60, 64, 67, 72)
"""Request i renders RECORDINGS[i % 4] at PITCHES[i % 4] (synthesize mode, the default refinement steps)."""
STARTUP_TIMEOUT_S = 180


class AppStartError(RuntimeError):
    """The app exited or did not answer in time; the message ends with the tail of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(workdir: str | os.PathLike, app_path: Path = APP_PATH, timeout_s: float = STARTUP_TIMEOUT_S,
              env: dict | None = None, python: str | os.PathLike = sys.executable, cwd: Path = REPO_ROOT):
    """``python app_path`` (default: this interpreter, demos/app.py) in ``cwd`` on a free local port, gradio's cache
    and the log (``app.log``) in ``workdir``.

    Yields the app's URL once it answers HTTP 200; the process is always stopped on exit. ``env``: the
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
        process = subprocess.Popen([str(python), str(app_path)], cwd=cwd, env=env, stdout=out,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
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


def check_render(outputs, downloaded: bool = True) -> None:
    """A /render answer: three WAVs (downloaded files, or URLs ending in .wav) and the summary.

    Raises AssertionError otherwise.
    """
    wavs = outputs[1:-1:2]
    assert len(wavs) == 3, outputs
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

    from .config import REFINE_STEPS

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

    from .config import REFINE_STEPS

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
    from .config import REFINE_STEPS

    spec = importlib.util.spec_from_file_location("hyperlib_bench_app", APP_PATH)
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
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
    from .config import REFINE_STEPS

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
