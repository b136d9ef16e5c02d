"""The app's latency benchmark (demos.bench, ``python -m hyperlib bench-app``), on a short run."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("gradio")
pytest.importorskip("gradio_client")

from demos.bench import bench_app, check_render, format_breakdown, soak, soak_requests  # noqa: E402


PIANO_PATH = Path(__file__).resolve().parents[1] / "examples" / "piano_c4.aif"


def test_breakdown_puts_the_rest_of_the_wall_time_in_transport():
    text = format_breakdown(0.5, {"decode": 10.0, "vocoder": 190.0, "total": 300.0})
    lines = text.splitlines()
    assert "500 ms at the client, 300 ms in the handler" in lines[0]
    assert any("vocoder" in line and "190.0 ms" in line and "38.0%" in line for line in lines)
    assert any("transport" in line and "200.0 ms" in line and "40.0%" in line for line in lines)
    assert "no stage timings" in format_breakdown(0.5, None)


def test_a_bad_answer_is_not_counted_as_a_render(tmp_path):
    with pytest.raises(AssertionError):
        check_render(["plot", str(tmp_path / "missing.wav"), "plot", "a.wav", "plot", "b.wav", "plot", "MIDI 60"])
    with pytest.raises(AssertionError):
        check_render(["plot", {"url": "x.mp3"}] * 3 + ["MIDI 60"], downloaded=False)


@pytest.mark.slow
def test_short_benchmark_of_the_served_app(capsys):
    out = bench_app(clients=2, requests=2, in_process=False)
    printed = capsys.readouterr().out
    for run in ("1 client, files downloaded", "1 client, answer only", "2 clients, files downloaded",
                "2 clients, answer only"):
        assert out[run]["failures"] == 0 and out[run]["p50_s"] > 0 and out[run]["throughput_rps"] > 0, run
        assert run in printed
    timings = out["breakdown"]["timings_ms"]  # the server's own, from /timings
    assert {"decode", "inversion (x, f, E)", "gan: G", "encoder: G", "hyper: G+H", "vocoder", "plots"} <= set(timings)
    assert 0 < timings["total"] < out["breakdown"]["wall_ms"]
    print(printed)


@pytest.mark.slow  # serves the app in a process
def test_short_soak_answers_every_request_and_reports_rss(tmp_path, capsys):
    """One round of the soak's mixed requests: the good ones answered with audio, the hostile ones and those over
    the budgets with a message, none lost, and the server's RSS reported after each."""
    out = soak(12, tmp_path, every=6)
    names = [name for name, _, _ in soak_requests({k: str(PIANO_PATH) for k in ("wide-flac", "fast-flac", "text",
                                                                                   "empty", "nan")})]
    assert len(names) == 12
    assert out["lost"] == 0 and out["answers"] == 6 and out["messages"] == 6, out
    assert len(out["rss_mb"]) == 12 and all(r > 0 for r in out["rss_mb"]) and out["max_mb"] >= out["end_mb"]
    assert out["peak_mb"] >= out["max_mb"]
    printed = capsys.readouterr().out
    assert "after    12 requests" in printed and "0 lost" in printed
    print(printed)
