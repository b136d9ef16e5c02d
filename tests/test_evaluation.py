"""The evaluation (paper sec. 4): a tiny end-to-end run (tiny corpus, tiny model, tiny evaluation classifiers)
checks that every row and metric is produced and finite. Scores are never asserted."""
from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from conftest import REPO  # noqa: E402
from hyperlib.config import CHECK_REFINEMENT, AudioConfig, ModelConfig  # noqa: E402
from hyperlib.evaluation import EvalConfig, evaluate, load_eval_classifiers, train_eval_classifiers, train_f_noadv  # noqa: E402
from hyperlib.evaluation import metrics as M  # noqa: E402
from hyperlib.evaluation.config import AUDIO_METHODS, MODEL_METHODS, REFERENCES  # noqa: E402
from hyperlib.mel import LEVEL_FLOOR_DB, frame_levels_db  # noqa: E402
from hyperlib.vocoders import DEFAULT_VOCODER, VOCODERS  # noqa: E402

SMALL = ModelConfig(gen_channels=(32, 32, 32, 16, 16, 8), disc_channels=(8, 16, 16, 32, 32),
                    feat_channels=(8, 16, 16, 32, 32), enc_channels=(8, 16, 16, 32, 32), h_dim=32, w_dim=64,
                    hyper_hidden=64)
STAGES = ("features", "generator", "hypernet-pre", "hypernet-adv", "encoder")


@pytest.fixture(scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory, one_thread):
    pytest.importorskip("fluidsynth")
    from hyperlib.corpus import render_corpus, soundfont_path
    from hyperlib.training import train_stage

    try:
        soundfont_path("TimGM6mb")
    except FileNotFoundError as exc:
        pytest.skip(str(exc))
    root = tmp_path_factory.mktemp("evaluation")
    corpus = root / "corpus"
    # 4 presets (piano, violin, flute, helicopter = unpitched) at 8 pitches
    render_corpus(corpus, ["TimGM6mb"], programs=[0, 40, 73, 125], pitches=list(range(48, 77, 4)))
    model = root / "model"
    for stage in STAGES:
        train_stage(stage, corpus, model, tiny=True, model_config=SMALL)
    train_eval_classifiers(corpus, corpus, model, tiny=True)
    train_f_noadv(corpus, model, tiny=True)
    from hyperlib.training.correction import CorrectionTrainConfig, install_correction, train_correction
    from hyperlib.training.correction_data import build_pairs

    for name, seed in (("train", 0), ("val", 1)):
        build_pairs(["TimGM6mb"], model, 6, seed=seed).save(root / f"{name}.npz")
    weights = train_correction(root / "train.npz", root / "val.npz", model, root / "correction",
                               CorrectionTrainConfig(steps=2, batch_size=2, val_every=1))
    install_correction(weights, model)
    return corpus, model


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


@pytest.fixture(scope="module")
def tiny_results(tiny_setup, tmp_path_factory):
    corpus, model = tiny_setup
    out = tmp_path_factory.mktemp("results")
    cfg = EvalConfig.tiny(seed=0, examples_dir=str(REPO / "examples"), recordings_dir=str(REPO / "recordings"))
    return evaluate(model, corpus, out, cfg), out


@pytest.mark.slow
def test_tiny_evaluation_produces_every_row(tiny_results):
    r, out = tiny_results
    for name in ("results.md", "results.json", "fig2_grid.png", "fig3_interpolation.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert "## Colour and loudness over time" in (out / "results.md").read_text()
    rows = MODEL_METHODS + AUDIO_METHODS + REFERENCES
    assert set(r["synthesis"]) == set(rows)
    for m in rows:
        for k in ("l1", "fine", "timbre_mse", "pitch_acc_clf", "pitch_acc_pyin"):
            assert _finite(r["reconstruction"][m][k]), ("reconstruction", m, k)
        for k in ("l1", "fine", "timbre_mse", "fd", "pitch_acc_clf", "pitch_acc_pyin"):
            assert _finite(r["synthesis"][m][k]), ("synthesis", m, k)
        for task in ("reconstruction", "synthesis"):
            assert r[task][m]["spectral_envelope"] >= 0 and r[task][m]["level_db"] >= 0, (task, m)
            assert _finite(r[task][m]["decay_0.5s"]) and _finite(r[task][m]["decay_0.8s"]), (task, m)
        assert r["synthesis_by_shift"][m]["0"]["n"] > 0
        for b, c in r["synthesis_by_shift"][m].items():  # empty shift groups are NaN by design
            assert (c["n"] == 0) == (not _finite(c["l1"])) == (not _finite(c["fine"])), (m, b)
        real = r["real_recordings"]["methods"][m]
        assert _finite(real["timbre_mse_recon"]) and real["flatness_ratio_unpitched"] > 0  # the handsaw
        assert set(real["flatness_ratio_by_file"]) == set(real["flatness_fine_ratio_by_file"]) == {"handsaw.ogg"}
        assert real["flatness_fine_ratio_unpitched"] > 0
        assert real["timbre_mse_recon_median"] == pytest.approx(np.median(list(real["timbre_mse_by_file"].values())))
        if m != "oracle":  # the oracle exists only at the recording's own pitch (documented NaN)
            assert _finite(real["pitch_acc_pyin"]) and _finite(real["pitch_acc_clf"])
    # at the input's own pitch the shifters return the input: its audio, rendered again, is the corpus's note
    for m in ("sampler", "phase-vocoder", "rubberband"):
        assert r["reconstruction"][m]["l1"] < 0.01 and r["reconstruction"][m]["fine"] < 0.05, m
    assert r["synthesis"]["phase-vocoder"]["l1"] > 0.02  # and elsewhere it is not the true note
    assert r["cost"]["ms_per_note"]["faithful"]["correction"] > 0
    assert r["cost"]["ms_per_note"]["faithful-far"]["pitch_shift"] > 0  # timed at a shift Rubber Band makes
    for m in MODEL_METHODS:
        for k in ("fd", "pitch_acc_clf", "pitch_acc_pyin"):
            assert _finite(r["interpolation"][m][k]), ("interpolation", m, k)
        for stage in ("front_end", "vocoder", "total"):
            assert r["cost"]["ms_per_note"][m][stage] > 0
    assert set(r["interpolation"]) == set(MODEL_METHODS)
    opt = r["optimize"]  # "optimize" beside every method on the same subset, and its cost
    assert set(opt["methods"]) == set(MODEL_METHODS) | {"optimize"} and opt["notes"] == 2 and opt["pairs"] > 0
    assert all(_finite(c[k]) for c in opt["methods"].values() for k in ("rec_l1", "rec_timbre_mse", "syn_l1"))
    assert opt["ms_per_note"] > 0 and opt["budget"]["code_steps"] == 2
    assert r["cost"]["ms_per_note"]["optimize"]["optimize"] > 0 and r["cost"]["optimize_notes_timed"] == 2
    assert _finite(r["cost"]["hyper_overhead_end_to_end"]) and _finite(r["cost"]["hyper_overhead_generation"])
    for net in ("f", "G", "E", "H", "H_pre", "D", "eval_family", "eval_pitch"):
        assert r["cost"]["parameters"][net] > 0
    for k in ("f", "f_noadv"):
        assert _finite(r["probe"][k]["test_accuracy"]) and 0 < r["probe"][k]["chance"] <= 1
    audio = r["audio"]
    assert audio["default"] == DEFAULT_VOCODER and audio["pairs"]["rec"] > 0 and audio["pairs"]["syn"] > 0
    expected = {f"{m}|{DEFAULT_VOCODER}" for m in MODEL_METHODS} | {f"{m}|{v}" for m in ("oracle", "hyper") for v in VOCODERS}
    assert set(audio["rows"]) == expected
    for key, row in audio["rows"].items():
        assert set(row) == {"rec_mel", "rec_fine", "syn_mel", "syn_fine"} and all(v > 0 for v in row.values()), key
    assert all(audio["ms_per_note"][v] > 0 for v in VOCODERS)
    real = r["real_recordings"]["audio"]  # HyperGANStrument's reconstruction of each recording, every vocoder
    assert set(real["rows"]) == set(VOCODERS) and all(len(f) == len(r["real_recordings"]["recordings"]) > 0
                                                       for f in real["by_file"].values())
    assert all(0 < d < 10 for row in real["rows"].values() for d in row.values())
    saved = json.loads((out / "results.json").read_text())
    assert saved["sizes"]["input_notes"] == r["sizes"]["input_notes"] > 0
    md = (out / "results.md").read_text()
    for name in ("GANStrument", "GANStrument Enc.", "HyperGANStrument-Pre", "HyperGANStrument",
                 "Classic sampler", "Oracle", "Faithful (pitch shift + correction)", "Pitch shift (phase vocoder)",
                 "Fine-resolution distance", "Synthesis by shift size", "Real recordings", "Cost",
                 "Disentanglement probe", "Audio distances and vocoders", "GAN inversion by optimization (subset)",
                 "| Vocoder | mel ↓ | fine ↓ | closest (mel / fine) |"):
        assert name in md


@pytest.mark.slow
def test_missing_noadv_is_reported_not_fatal(tiny_setup, tiny_results, tmp_path):
    from hyperlib.evaluation import Evaluator
    from hyperlib.evaluation.probe import probe as run_probe
    from hyperlib.evaluation.report import markdown
    from hyperlib.evaluation.run import clean

    corpus, model = tiny_setup
    copy = tmp_path / "model"
    copy.mkdir()
    for p in model.iterdir():
        if p.is_file() and p.name != "f_noadv.safetensors":
            (copy / p.name).write_bytes(p.read_bytes())
    probe = run_probe(Evaluator.load(copy, corpus, EvalConfig.tiny()))
    assert probe["f_noadv"]["missing"] and math.isnan(probe["f_noadv"]["test_accuracy"])
    assert _finite(probe["f"]["test_accuracy"])
    r = {**tiny_results[0], "probe": probe}
    assert "`f_noadv` (missing)" in markdown(r)
    assert json.loads(json.dumps(clean(r)))["probe"]["f_noadv"]["test_accuracy"] is None


def test_missing_classifiers_name_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-eval"):
        load_eval_classifiers(tmp_path)


def test_frechet_distance():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 4))
    assert abs(M.frechet_distance(a, a)) < 1e-6
    assert M.frechet_distance(a, a + 3.0) == pytest.approx(36.0, rel=1e-6)


def test_linear_probe_reads_a_linear_label_and_not_noise():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 8, 400)
    x = rng.normal(size=(400, 16))
    x[:, :4] += 3.0 * rng.normal(size=(8, 4))[y]  # each label has its own mean in the first four features
    readable = M.linear_probe(torch.tensor(x[:200]), y[:200], torch.tensor(x[200:]), y[200:])
    assert readable["test_accuracy"] > 0.8 and readable["chance"] == pytest.approx(1 / 8)
    noise = M.linear_probe(torch.tensor(x[:200, 4:]), y[:200], torch.tensor(x[200:, 4:]), y[200:])
    assert noise["test_accuracy"] < 0.3
    again = M.linear_probe(torch.tensor(x[:200]), y[:200], torch.tensor(x[200:]), y[200:])
    assert again == readable  # deterministic


def test_classic_sampler_resamples():
    cfg = AudioConfig()
    t = np.arange(cfg.num_samples) / cfg.sample_rate
    y = np.sin(2 * np.pi * 440.0 * t).astype(np.float32)
    up = M.resample_shift(y, 12, cfg)  # an octave up: played twice as fast, half as long
    assert up.shape == (cfg.num_samples,)
    spec = np.abs(np.fft.rfft(up[:4096] * np.hanning(4096)))
    assert abs(np.argmax(spec) * cfg.sample_rate / 4096 - 880.0) < 8
    assert np.abs(up[cfg.num_samples // 2 + 200 :]).max() < 1e-3  # the rest is padding
    assert M.pitch_hits(np.array([440.0, 455.0, np.nan]), np.array([69, 69, 69])).tolist() == [True, False, False]


def test_pitch_agreement_follows_the_true_note():
    """An output an octave below the asked pitch agrees with a true note pYIN also hears there; an unvoiced true
    note is left out (NaN), an unvoiced output is a miss."""
    truth = np.array([220.0, 440.0, np.nan, 440.0])
    out = np.array([220.0, 220.0, 440.0, np.nan])
    agree = M.pitch_agreement(out, truth)
    assert agree[:2].tolist() == [1.0, 0.0] and np.isnan(agree[2]) and agree[3] == 0.0
    assert M.pitch_hits(out[:1], np.array([69])).tolist() == [False]  # the nominal pitch misses it
    from hyperlib.evaluation.pairs import agreement
    assert agreement(agree) == {"pitch_agree_pyin": 1 / 3, "n_agree": 3}


def test_cli_parses_eval_commands():
    from hyperlib.cli import build_parser

    a = build_parser().parse_args(["evaluate", "--split", "validation", "--out", "results/", "--max-notes", "5"])
    assert (a.command, a.max_notes, a.model, a.seed) == ("evaluate", 5, "checkpoints", 0)
    assert a.check_refinement is CHECK_REFINEMENT
    a = build_parser().parse_args(["evaluate", "--out", "results/", "--no-check-refinement"])
    assert a.check_refinement is False
    a = build_parser().parse_args(["train-eval", "--corpus", "c", "--validation", "v", "--model", "m"])
    assert (a.command, a.noadv_steps) == ("train-eval", 600)


def test_envelope_errors_see_colour_and_ringing():
    """A brighter copy differs in colour only; a copy that stops decaying rings too long at 0.5 and 0.8 s."""
    cfg = AudioConfig()
    frames = torch.arange(128, dtype=torch.float32)
    bands = torch.arange(128, dtype=torch.float32)
    decay = -0.005 * frames  # normalized log-mel units per frame: the true note fades
    truth = (0.5 - 0.004 * bands[:, None] + decay[None, :])[None, None]
    brighter = truth + 0.002 * bands[None, None, :, None]
    ringing = truth.clone()
    ringing[..., 40:] = truth[..., 40:41]  # holds its level after frame 40 (0.32 s)
    out = M.envelope_errors(torch.cat([truth, brighter, ringing]), truth.repeat(3, 1, 1, 1), cfg)
    assert out["spectral_envelope"][0] == 0 and out["level_db"][0] == 0 and out["decay_0.8s"][0] == 0
    assert out["spectral_envelope"][1] > 0.1 and out["decay_0.8s"][1] == pytest.approx(0, abs=1e-3)
    assert out["decay_0.5s"][2] > 5 and out["decay_0.8s"][2] > out["decay_0.5s"][2] and out["level_db"][2] > 5
    levels = frame_levels_db(ringing, cfg)
    assert levels.max() == 0 and levels.min() >= -LEVEL_FLOOR_DB


def test_spectral_flatness_tells_noise_from_harmonics():
    from hyperlib.mel import LogMel

    cfg = AudioConfig()
    t = np.arange(cfg.num_samples) / cfg.sample_rate
    noise = np.random.default_rng(0).standard_normal(cfg.num_samples).astype(np.float32) * 0.1
    harmonic = sum(np.sin(2 * np.pi * 220 * k * t) / k for k in range(1, 6)).astype(np.float32) * 0.1
    flat = M.spectral_flatness(LogMel(cfg)(torch.from_numpy(np.stack([noise, harmonic]))), cfg)
    assert flat[0] > 0.5 and flat[1] < 0.1 and flat[0] > 10 * flat[1]


def test_fine_flatness_sees_a_dense_comb_the_mel_calls_noise():
    """A comb of 71 harmonics of 110 Hz fills the mel bands above a few hundred Hz: its mel flatness is within a
    factor of two of white noise's, while at the fine resolution it is a fortieth of it."""
    from hyperlib.mel import LogMel

    cfg = AudioConfig()
    t = np.arange(cfg.num_samples) / cfg.sample_rate
    noise = np.random.default_rng(0).standard_normal(cfg.num_samples).astype(np.float32) * 0.1
    comb = sum(np.sin(2 * np.pi * 110 * k * t + k) for k in range(1, 72)).astype(np.float32) * 0.01
    mel = M.spectral_flatness(LogMel(cfg)(torch.from_numpy(np.stack([noise, comb]))), cfg)
    assert mel[1] > mel[0] / 2
    assert M.audio_flatness(noise) > 0.5 and M.audio_flatness(comb) < M.audio_flatness(noise) / 20
    with pytest.raises(ValueError, match="silent"):
        M.audio_flatness(np.zeros(cfg.num_samples))


def test_log_spectral_l1_ignores_level_and_sees_spectra():
    cfg, sr = AudioConfig(), 16000
    t = np.arange(cfg.num_samples) / sr
    a = np.sin(2 * np.pi * 440 * t) * np.exp(-2 * t)
    b = np.sin(2 * np.pi * 660 * t) * np.exp(-2 * t)
    assert M.log_spectral_l1(0.1 * a, a, 4096, 256) == pytest.approx(0.0, abs=1e-9)  # RMS matched
    assert M.log_spectral_l1(b, a, 4096, 256) > 0.05  # most bins sit at the floor in both
    basis = np.ones((1, 2049))
    assert M.log_spectral_l1(b, a, 4096, 256, basis) < M.log_spectral_l1(b, a, 4096, 256)  # coarser, closer
    with pytest.raises(ValueError, match="silent"):
        M.log_spectral_l1(a, np.zeros_like(a), 4096, 256)
