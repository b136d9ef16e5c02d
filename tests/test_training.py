"""The five resumable training stages, run in order on the tiny corpus with a small model.

Every stage is seeded, so these runs are repeatable on one machine; across machines the arithmetic differs
enough to move the ratios below (last quarter's mean over the first quarter's), so each schedule keeps a
margin. Measured at the default seed: features 0.56, generator 0.64, hypernet-pre 0.80, hypernet-adv 0.74,
encoder 0.62; hypernet-adv with the stage seeds 1-4 as well: 0.70-0.84. Without optimizer steps every one
of these tests fails (hypernet-adv at lr 0: 0.98-1.12).
"""
from __future__ import annotations

import json
import math
import shutil
import time

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import PIANO, run_cli
from hyperlib import checkpoint as ckpt
from hyperlib.config import AudioConfig
from hyperlib.corpus import Corpus, NoteRecord, load_corpus
from hyperlib.modelcard import LOSS_CURVES, write_model_card
from hyperlib.training import STAGES, train_stage
from hyperlib.training.data import NoteBank
from hyperlib.training.stages import TINY

# stage -> (TrainConfig overrides, the logged loss that must fall, the networks the stage writes)
PLAN = {
    # 4 instruments at 7 pitches: pitch and identity are so entangled that an adversary of weight 0.1 or more
    # holds the instrument loss near chance for 60 steps; at 0.03 it still lowers the pitch read-out's R^2
    # (0.107 -> 0.025, against 0.056 without it) while the instrument loss halves.
    "features": (dict(steps=60, batch_size=16, lr=1e-3, pitch_adv_weight=0.03), "ce_instrument", ("f",)),
    # Without the weight average here: the averaged G of so short a run is already so close to the notes that
    # 24 steps of H have little left to correct (l_pre 4.6 -> 4.4, against 7.0 -> 4.8 on the last raw G).
    # test_generator_stage_schedule_average_and_summary covers the average.
    "generator": (dict(steps=100, batch_size=4, ema_half_life=0), "l1", ("G", "D")),
    # p_recon=1: every sample is an own-pitch reconstruction, so the loss does not depend on how many samples
    # happened to draw the reconstruction term. H reaches its plateau within ~10 steps at the default lr, so
    # pre-training uses a lower lr: then the adversarial stage, starting from H_pre, still has room to improve.
    "hypernet-pre": (dict(steps=24, batch_size=8, p_recon=1.0, lr=1e-3), "l_pre", ("H_pre",)),
    # The adversarial term pulls against L_pre, so at the default lr 24 steps lower l_pre by only 5-6 %
    # (0.94-0.95 over seeds 0-2), within one machine's batch noise; lr 5e-3 leaves a margin.
    "hypernet-adv": (dict(steps=24, batch_size=8, p_recon=1.0, lr=5e-3), "l_pre", ("H",)),
    "encoder": (dict(steps=80, batch_size=8, lr=3e-3), "recon_mse", ("E",)),
}
MAX_RATIO = 0.9  # mean of the last quarter of the log / mean of the first quarter


def train(stage: str, corpus_dir, model_dir, cfg, **overrides) -> dict:
    """train_stage with the tiny schedule (log every step, small KNN, one refinement step) plus ``overrides``.

    The tiny schedule is spelled out instead of ``tiny=True`` because ``tiny=True`` cannot be combined with
    a ``steps`` override (see test_tiny_accepts_overrides).
    """
    return train_stage(stage, corpus_dir, model_dir, model_config=cfg, **{**TINY, **overrides})


def read_log(model_dir, stage: str) -> list[dict]:
    path = model_dir / "_train" / f"{stage}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def trained(tiny_corpus, small_cfg, tmp_path_factory):
    """One model folder trained through all five stages in order; a snapshot of the folder after each."""
    model_dir = tmp_path_factory.mktemp("trained_model")
    after = {}
    for stage, (overrides, _, _) in PLAN.items():
        start = time.perf_counter()
        summary = train(stage, tiny_corpus, model_dir, small_cfg, **overrides)
        after[stage] = {"summary": summary, "config": ckpt.read_config(model_dir), "elapsed_s": time.perf_counter() - start,
                        "hashes": {p.name: ckpt_hash(p) for p in model_dir.glob("*.safetensors")}}
    return model_dir, after


def ckpt_hash(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_stage_order():
    assert list(STAGES) == list(PLAN)


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(PLAN))
def test_stage_lowers_its_loss(trained, stage):
    model_dir, _ = trained
    overrides, key, _ = PLAN[stage]
    rows = read_log(model_dir, stage)
    assert [r["step"] for r in rows] == list(range(1, overrides["steps"] + 1))
    values = np.array([r[key] for r in rows])
    assert np.all(np.isfinite(values))
    k = len(values) // 4
    first, last = values[:k].mean(), values[-k:].mean()
    assert last < MAX_RATIO * first, f"{stage}: {key} went from {first:.4g} to {last:.4g}"


@pytest.mark.slow
@pytest.mark.parametrize("stage", list(PLAN))
def test_stage_writes_its_networks_and_summary(trained, stage, small_cfg, tiny_corpus):
    model_dir, after = trained
    overrides, key, networks = PLAN[stage]
    snapshot = after[stage]
    for name in networks:
        assert f"{name}.safetensors" in snapshot["hashes"]
        net = ckpt.load_network(model_dir, name)
        assert all(torch.all(torch.isfinite(v)) for v in net.state_dict().values())
    # earlier stages' files are present and untouched, later stages' files not yet written
    order = list(PLAN)
    done = {n for s in order[: order.index(stage) + 1] for n in PLAN[s][2]}
    assert set(snapshot["hashes"]) == {f"{n}.safetensors" for n in done}
    for earlier in order[: order.index(stage)]:
        for name in PLAN[earlier][2]:
            assert snapshot["hashes"][f"{name}.safetensors"] == after[earlier]["hashes"][f"{name}.safetensors"], \
                f"{stage} rewrote {name}"
    # config.json: the model sizes (num_instruments from the corpus) and this stage's summary
    cfg = snapshot["config"]
    n_notes = len(load_corpus(tiny_corpus).notes)
    assert cfg["model"]["gen_channels"] == list(small_cfg.gen_channels)
    assert cfg["model"]["num_instruments"] == 4 and cfg["model"]["h_dim"] == small_cfg.h_dim
    assert cfg["audio"]["sample_rate"] == 16000
    summary = cfg["training"][stage]
    assert summary == json.loads(json.dumps(snapshot["summary"]))
    assert summary["steps"] == overrides["steps"] and summary["batch_size"] == overrides["batch_size"]
    assert summary["notes"] == n_notes and summary["device"] == "cpu"
    # the recorded wall time lies within the call that trained the stage (rounded to 0.1 s); one run in a new folder
    assert summary["wall_time_s"] <= snapshot["elapsed_s"] + 0.05
    assert summary["wall_time_total_s"] == summary["wall_time_s"]
    assert key in summary["final_losses"] and math.isfinite(summary["final_losses"][key])
    assert set(cfg["training"]) == set(order[: order.index(stage) + 1])
    assert (model_dir / "_train" / f"{stage}.pt").is_file()


@pytest.mark.slow
def test_trained_folder_runs_the_pipeline(trained):
    from hyperlib import HyperGANStrument

    model_dir, _ = trained
    model = HyperGANStrument.from_pretrained(model_dir)
    for method in ("gan", "encoder", "hyper"):
        r = model.synthesize(PIANO, 62, method)
        assert r.audio.shape == (16384,) and np.all(np.isfinite(r.audio)) and r.mel.shape == (128, 128)


# -- resuming -------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def features_only(tiny_corpus, small_cfg, tmp_path_factory):
    """A model folder whose only network is a briefly trained f (what the generator stage starts from)."""
    model_dir = tmp_path_factory.mktemp("features_only")
    train("features", tiny_corpus, model_dir, small_cfg, steps=4, batch_size=8)
    return model_dir


@pytest.fixture()
def with_features(features_only, tmp_path):
    """A fresh model folder holding only config.json (no training summaries) and a trained f (recorded in its
    hashes.json, without which nothing is loaded)."""
    model_dir = features_only
    cfg = ckpt.read_config(model_dir)
    cfg.pop("training", None)
    ckpt.write_config(tmp_path, cfg)
    shutil.copy(model_dir / "f.safetensors", tmp_path / "f.safetensors")
    ckpt.record_hash(tmp_path / "f.safetensors")
    return tmp_path


def test_resume_continues_from_saved_step(with_features, tiny_corpus, small_cfg):
    d = with_features
    train("generator", tiny_corpus, d, small_cfg, steps=6, ckpt_every=3)
    rows6 = read_log(d, "generator")
    assert [r["step"] for r in rows6] == list(range(1, 7))
    assert ckpt.read_config(d)["training"]["generator"]["steps"] == 6
    g6 = load_file(str(d / "G.safetensors"))

    summary = train("generator", tiny_corpus, d, small_cfg, steps=10, ckpt_every=3)
    rows10 = read_log(d, "generator")
    assert [r["step"] for r in rows10] == list(range(1, 11))  # continued at 7, not restarted at 1
    assert rows10[:6] == rows6
    assert rows10[6]["time_s"] >= rows6[-1]["time_s"]  # wall time accumulates across runs
    assert summary["steps"] == 10 and ckpt.read_config(d)["training"]["generator"]["steps"] == 10
    state = torch.load(d / "_train" / "generator.pt", weights_only=True)
    assert state["step"] == 10
    g10 = load_file(str(d / "G.safetensors"))
    assert any(not torch.equal(g6[k], g10[k]) for k in g6)
    # the continued steps start from the trained G: their L1 is well below a fresh G's first step
    assert np.mean([r["l1"] for r in rows10[6:]]) < rows6[0]["l1"]

    # asking for the same number of steps again trains nothing more
    train("generator", tiny_corpus, d, small_cfg, steps=10, ckpt_every=3)
    assert read_log(d, "generator") == rows10


def test_generator_with_noise_inputs_learns_their_strengths(with_features, tiny_corpus, small_cfg):
    from dataclasses import replace

    d = with_features
    cfg = ckpt.read_config(d)
    cfg["model"]["noise_inputs"] = True
    ckpt.write_config(d, cfg)
    train("generator", tiny_corpus, d, replace(small_cfg, noise_inputs=True), steps=6)
    G = load_file(str(d / "G.safetensors"))
    strengths = torch.stack([v for k, v in G.items() if k.endswith("noise_strength")])
    assert len(strengths) == 2 * len(small_cfg.gen_channels) - 1 and "noise_const0" in G
    assert strengths.abs().max() > 0  # zero at the start; the adversarial loss moves them (the L1 sees no noise)
    assert all(np.isfinite(r["l1"]) for r in read_log(d, "generator"))


def test_fresh_starts_over(with_features, tiny_corpus, small_cfg):
    d = with_features
    train("generator", tiny_corpus, d, small_cfg, steps=4)
    train("generator", tiny_corpus, d, small_cfg, steps=3, fresh=True)
    assert [r["step"] for r in read_log(d, "generator")] == [1, 2, 3]
    assert torch.load(d / "_train" / "generator.pt", weights_only=True)["step"] == 3


def test_time_budget_stops_early_and_the_run_goes_on(with_features, tiny_corpus, small_cfg):
    d = with_features
    # a budget every step overruns: the run stops after its first step and writes what it reached
    summary = train("generator", tiny_corpus, d, small_cfg, steps=50, ckpt_every=20, max_minutes=1e-9)
    assert summary["steps"] == 1 and summary["samples"] == summary["batch_size"]
    assert [r["step"] for r in read_log(d, "generator")] == [1]
    assert torch.load(d / "_train" / "generator.pt", weights_only=True)["step"] == 1
    assert (d / "G.safetensors").is_file() and (d / "D.safetensors").is_file()
    # run again (no --fresh) without a budget: it goes on at step 2 to the end
    summary = train("generator", tiny_corpus, d, small_cfg, steps=5, ckpt_every=20)
    assert summary["steps"] == 5 and [r["step"] for r in read_log(d, "generator")] == [1, 2, 3, 4, 5]


@pytest.mark.slow
def test_tiny_schedule(tiny_corpus, small_cfg, tmp_path):
    summary = train_stage("features", tiny_corpus, tmp_path, tiny=True, model_config=small_cfg)
    assert summary["steps"] == TINY["steps"] and summary["batch_size"] == TINY["batch_size"]
    assert len(read_log(tmp_path, "features")) == TINY["steps"]
    assert (tmp_path / "f.safetensors").is_file()


@pytest.mark.slow
def test_tiny_accepts_overrides(tiny_corpus, small_cfg, tmp_path):
    summary = train_stage("features", tiny_corpus, tmp_path, tiny=True, model_config=small_cfg, steps=3,
                          batch_size=2)
    assert summary["steps"] == 3 and summary["batch_size"] == 2
    assert [r["step"] for r in read_log(tmp_path, "features")] == [1, 2, 3]


@pytest.mark.slow
def test_cli_train_tiny_with_steps(tiny_corpus, tmp_path, capsys):
    from hyperlib.cli import main

    assert main(["train", "features", "--corpus", str(tiny_corpus), "--model", str(tmp_path), "--tiny",
                 "--steps", "2"]) == 0
    assert ckpt.read_config(tmp_path)["training"]["features"]["steps"] == 2


@pytest.mark.slow
def test_cli_train(tiny_corpus, tmp_path):
    proc = run_cli("train", "features", "--corpus", tiny_corpus, "--model", tmp_path, "--tiny")
    assert proc.returncode == 0, proc.stderr
    assert "samples_per_s" in proc.stdout and "curve" not in proc.stdout  # a summary line, not the loss curve
    assert (tmp_path / "f.safetensors").is_file()
    cfg = ckpt.read_config(tmp_path)
    assert cfg["training"]["features"]["steps"] == TINY["steps"]
    assert cfg["model"]["num_instruments"] == 4
    # a later stage without its inputs: a readable error, exit code 2
    proc = run_cli("train", "encoder", "--corpus", tiny_corpus, "--model", tmp_path, "--tiny")
    assert proc.returncode == 2 and "error:" in proc.stderr and "generator" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_stage_errors(tiny_corpus, small_cfg, tmp_path):
    with pytest.raises(ValueError, match="features"):
        train_stage("no-such-stage", tiny_corpus, tmp_path)
    with pytest.raises(FileNotFoundError, match="features"):  # the generator needs f
        train("generator", tiny_corpus, tmp_path, small_cfg, steps=1)
    with pytest.raises(FileNotFoundError):
        train("features", tmp_path / "no_corpus", tmp_path / "m", small_cfg, steps=1)


@pytest.mark.slow
def test_features_adversary_removes_linear_pitch(tiny_corpus, small_cfg, tmp_path):
    """With the adversary on, the closed-form pitch read-out explains less of pitch by the end of training."""
    final = {}
    for weight in (0.0, 3.0):
        out = tmp_path / f"w{weight}"
        train("features", tiny_corpus, out, small_cfg, steps=60, batch_size=8, lr=1e-3, pitch_adv_weight=weight,
              adversary_queue=256)
        rows = read_log(out, "features")
        assert all(0.0 <= r["pitch_r2_queue"] <= 1.0 for r in rows)
        assert max(r["ce_instrument"] for r in rows) < 2 * math.log(4)
        final[weight] = sum(r["pitch_r2_queue"] for r in rows[-10:]) / 10
    assert final[3.0] < 0.7 * final[0.0]


# -- training data ----------------------------------------------------------------------------------------------------
def test_note_bank_exact_targets_keep_the_velocity():
    """With several velocities per preset, the exact target of a pair is at the input note's velocity."""
    notes = [NoteRecord("X", 0, prog, "p", prog, 0, pitch, vel, True)
             for prog in (0, 1) for vel in (64, 127) for pitch in (60, 62, 64)]
    bank = NoteBank(Corpus(np.zeros((len(notes), 4, 4), np.float16), notes, AudioConfig()))
    assert bank.num_instruments == 2
    rows = torch.arange(len(bank))
    for p in (60, 62, 64):
        r = bank.exact(rows, torch.full((len(bank),), p))
        assert torch.equal(bank.velocity[r], bank.velocity) and torch.equal(bank.instrument[r], bank.instrument)
        assert torch.all(bank.pitch[r] == p)


def test_note_bank(tiny_corpus):
    corpus = load_corpus(tiny_corpus)
    bank = NoteBank(corpus)
    assert len(bank) == len(corpus.notes) and bank.num_instruments == 4
    assert bank.batch(torch.tensor([0, 3]), "cpu").shape == (2, 1, 128, 128)
    assert bank.batch(torch.tensor([0]), "cpu").dtype == torch.float32
    rows = torch.arange(len(bank))
    # exact(i, p): the row of i's instrument at pitch p
    for i in range(len(bank)):
        for p in (48, 60, 72):
            r = int(bank.exact(torch.tensor([i]), torch.tensor([p]))[0])
            assert bank.instrument[r] == bank.instrument[i] and bank.pitch[r] == p
    assert int(bank.exact(torch.tensor([0]), torch.tensor([50]))[0]) == -1  # 50 was not rendered
    h = torch.randn(len(bank), 8)
    bank.build_knn(h, k=4)
    assert bank.knn.shape == (len(bank), 4)
    assert torch.equal(bank.knn[:, 0], rows)  # each row is its own nearest neighbour
    assert set(bank.neighbours(rows).tolist()) <= set(range(len(bank)))
    # a feature's neighbours: a row's own h finds one of that row's k nearest rows
    assert all(int(n) in bank.knn[r].tolist() for r, n in zip(rows, bank.neighbours_of(h[rows])))
    sims = torch.nn.functional.normalize(h, dim=1) @ torch.nn.functional.normalize(h, dim=1).T
    assert torch.all(sims.gather(1, bank.knn).min(1).values >= sims.sort(1, descending=True).values[:, 3] - 1e-6)


# -- the recipe: weight average, learning-rate schedule, step economies ---------------------------------------------
def test_ema_trails_the_weights():
    from hyperlib.training.ema import EMA

    net = torch.nn.Linear(3, 2)
    ema = EMA(net, half_life=8, rampup=None)
    assert ema.beta(0, 8) == pytest.approx(0.5) and ema.beta(0, 16) == pytest.approx(0.25)
    assert EMA(net, 1000, rampup=0.5).beta(10, 1) == pytest.approx(0.5 ** (1 / 5))  # ramped: half-life 5
    start = net.weight.detach().clone()
    with torch.no_grad():
        net.weight.add_(1.0)
    ema.update(net, 8, 8)  # beta 0.5: halfway to the new weights
    assert torch.allclose(ema.module.weight, start + 0.5)
    assert not ema.module.weight.requires_grad and not ema.module.training
    with pytest.raises(ValueError, match="half-life"):
        EMA(net, 0)


def test_lr_schedule():
    from hyperlib.config import TrainConfig

    tc = TrainConfig(steps=101, lr_schedule="cosine", warmup_steps=10, lr_final_mult=0.1)
    factors = [tc.lr_factor(s) for s in range(101)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0) and factors[10] == pytest.approx(1.0)
    assert factors[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:]))  # decays monotonically after the warm-up
    assert TrainConfig(steps=10).lr_factor(7) == 1.0
    with pytest.raises(ValueError, match="cosine"):
        TrainConfig(lr_schedule="step").lr_factor(0)


def test_generator_stage_schedule_average_and_summary(with_features, tiny_corpus, small_cfg):
    """The optimizer follows the schedule, G is saved as the weight average beside G_raw, and a warm start
    resumes the raw weights and adds its samples and time to the totals."""
    d = with_features
    summary = train("generator", tiny_corpus, d, small_cfg, steps=6, batch_size=2, lr_schedule="cosine",
                    lr_final_mult=0.25, ema_half_life=1000)
    state = torch.load(d / "_train" / "generator.pt", weights_only=True)
    for group in state["optims"]["G"]["param_groups"]:  # the lr of the last step: the schedule's end
        assert group["lr"] == pytest.approx(group["base_lr"] * 0.25)
    g, g_raw = load_file(str(d / "G.safetensors")), load_file(str(d / "G_raw.safetensors"))
    assert any(not torch.equal(g[k], g_raw[k]) for k in g)
    assert summary["samples"] == 12 and summary["samples_total"] == 12
    assert summary["options"]["lr_schedule"] == "cosine" and summary["options"]["ema_half_life"] == 1000
    curve = summary["curve"]
    assert curve["samples"][-1] == 12 and len(curve["l1"]) == len(curve["samples"]) and all(v > 0 for v in curve["l1"])

    # lr 0: the raw weights come back unchanged from G_raw, the average moves from G by one step towards them
    again = train("generator", tiny_corpus, d, small_cfg, steps=2, batch_size=2, lr=0.0, ema_half_life=1000,
                  warm_start=True, fresh=True)
    assert again["samples_total"] == 16 and again["wall_time_total_s"] >= summary["wall_time_s"]
    n = len(curve["samples"])  # the warm start's curve goes on from the first run's
    assert again["curve"]["samples"][:n] == curve["samples"] and again["curve"]["samples"][n:] == [14, 16]
    g2, g2_raw = load_file(str(d / "G.safetensors")), load_file(str(d / "G_raw.safetensors"))
    assert all(torch.equal(g_raw[k], g2_raw[k]) for k in g_raw)
    beta2 = 0.5 ** (2 * 2 / 1000)  # two steps of two samples, no ramp-up on a warm start
    for k in g:
        assert torch.allclose(g2[k], beta2 * g[k] + (1 - beta2) * g_raw[k], atol=1e-6)

    # a warm-started run stopped and resumed (without warm_start) still adds to the totals it started from
    start = ckpt.read_config(d)["training"]["generator"]["samples_total"]
    train("generator", tiny_corpus, d, small_cfg, steps=1, batch_size=2, ema_half_life=1000, warm_start=True, fresh=True)
    resumed = train("generator", tiny_corpus, d, small_cfg, steps=2, batch_size=2, ema_half_life=1000)
    assert resumed["samples_total"] == start + 4 and resumed["wall_time_total_s"] >= again["wall_time_total_s"]
    assert resumed["curve"]["samples"][-2:] == [start + 2, start + 4]  # the resumed run's rows, once each

    # the model card sums samples and CPU time over the runs and plots the curves
    card = write_model_card(d, "A tiny test corpus.").read_text()
    assert (d / LOSS_CURVES).stat().st_size > 0 and f"]({LOSS_CURVES})" in card
    row = next(line for line in card.splitlines() if line.startswith("| generator |"))
    assert f"| {start + 4:,} |" in row


def test_adversarial_loss_leaves_the_discriminator_alone(small_cfg):
    from hyperlib.models import Discriminator, Generator
    from hyperlib.training.losses import adversarial_loss

    G, D = Generator(small_cfg), Discriminator(small_cfg)
    h, p = torch.randn(2, small_cfg.h_dim), torch.tensor([60, 64])
    adversarial_loss(D, G(h, None, p), p, h).backward()
    assert all(q.grad is None for q in D.parameters()) and all(q.requires_grad for q in D.parameters())
    assert any(q.grad is not None and q.grad.abs().sum() > 0 for q in G.parameters())


@pytest.mark.slow
def test_bench_train_reads_the_stage_log(trained, tiny_corpus):
    from hyperlib.training.bench import bench_train, format_table

    model_dir, _ = trained
    rows = bench_train(model_dir, tiny_corpus, ["encoder"], steps=8)
    assert [r["stage"] for r in rows] == ["encoder"] and rows[0]["samples_per_s"] > 0
    assert rows[0]["samples_per_s"] == pytest.approx(rows[0]["batch_size"] / rows[0]["seconds_per_step"], rel=0.02)
    assert "| encoder |" in format_table(rows)
    with pytest.raises(ValueError, match="stages in order"):
        bench_train(model_dir, tiny_corpus, ["nope"])
    with pytest.raises(ValueError, match="at least 1"):
        bench_train(model_dir, tiny_corpus, ["encoder"], steps=0)


def copy_trained(trained, folder):
    """Copy the trained folder's networks and config into ``folder`` (a stage may then retrain there); returns
    the trained folder."""
    model_dir, _ = trained
    for p in model_dir.glob("*.safetensors"):
        shutil.copy(p, folder / p.name)
    shutil.copy(model_dir / ckpt.HASHES_FILE, folder / ckpt.HASHES_FILE)  # without it nothing loads
    ckpt.write_config(folder, ckpt.read_config(model_dir))
    return model_dir


def test_l_pre_counts_reconstruction_and_envelope_only_where_the_true_note_is_known():
    """The envelope term sees a note that stops decaying; rows whose target is unknown add only the timbre term."""
    from types import SimpleNamespace

    from hyperlib.config import TrainConfig
    from hyperlib.training.losses import l_pre

    frames = torch.arange(128, dtype=torch.float32)
    truth = (0.3 - 0.006 * frames).expand(2, 1, 128, 128).clone()  # fades by about 0.65 dB per frame
    held = truth.clone()
    held[..., 40:] = truth[..., 40:41]  # rings on after frame 40
    f = torch.nn.Flatten()  # a stand-in feature extractor: h must equal the flattened mel
    h = f(held).detach()
    x_fine = held.clone().requires_grad_(True)
    stage = lambda **tc: SimpleNamespace(tc=TrainConfig(**tc), audio=AudioConfig())  # noqa: E731
    paper, logs = l_pre(stage(), f, h, truth, x_fine, torch.tensor([1.0, 0.0]), h_scale=1.0)
    with_env, env_logs = l_pre(stage(envelope_weight=0.1), f, h, truth, x_fine, torch.tensor([1.0, 0.0]), 1.0)
    assert "level_db" not in logs and env_logs["level_db"] > 10
    assert with_env.item() == pytest.approx(paper.item() + 0.1 * env_logs["level_db"] / 2, rel=1e-5)
    unknown, _ = l_pre(stage(envelope_weight=0.1), f, h, truth, x_fine, torch.zeros(2), 1.0)
    assert unknown.item() == pytest.approx(0.0, abs=1e-9)  # timbre matches, nothing else counts
    (grad,) = torch.autograd.grad(with_env, x_fine)
    assert grad[0].abs().sum() > 0 and grad[1].abs().sum() == 0


@pytest.mark.slow
def test_hypernet_stage_reconstructs_at_known_pitches(trained, tiny_corpus, small_cfg, tmp_path):
    """With recon_known_pitch and no own-pitch draws, the true notes at the neighbours' pitches still train H."""
    copy_trained(trained, tmp_path)
    train("hypernet-pre", tiny_corpus, tmp_path, small_cfg, steps=6, batch_size=8, p_recon=0.0,
          recon_known_pitch=True, envelope_weight=0.1, gradient_weight=10.0)
    log = read_log(tmp_path, "hypernet-pre")
    assert all(r["recon_l1"] > 0 and r["level_db"] > 0 and r["grad_diff"] > 0 for r in log)
    options = ckpt.read_config(tmp_path)["training"]["hypernet-pre"]["options"]
    assert options["recon_known_pitch"] is True and options["envelope_weight"] == 0.1
    card = write_model_card(tmp_path, "A tiny test corpus.").read_text()
    assert "l_recon also at every other pitch" in card and "+ 0.1 x the per-frame level error in dB" in card
    assert "l_recon as the absolute error" in card and "+ 10 x the gradient difference loss" in card


@pytest.mark.slow
def test_cli_trains_h_with_the_papers_l_pre_on_request(trained, tiny_corpus, tmp_path):
    """The H stages extend L_pre by default; --recon-loss l2 --no-recon-known-pitch --envelope-weight 0 restores
    the paper's."""
    from hyperlib.cli import main

    copy_trained(trained, tmp_path)
    options = lambda: ckpt.read_config(tmp_path)["training"]["hypernet-pre"]["options"]  # noqa: E731
    args = ["train", "hypernet-pre", "--corpus", str(tiny_corpus), "--model", str(tmp_path), "--tiny", "--steps", "2"]
    assert main(args) == 0
    assert options()["recon_known_pitch"] is True and options()["envelope_weight"] == 0.1
    assert options()["recon_loss"] == "l1" and "recon_l1" in read_log(tmp_path, "hypernet-pre")[-1]
    assert "grad_diff" not in read_log(tmp_path, "hypernet-pre")[-1]
    assert main([*args, "--fresh", "--gradient-weight", "3", "--timbre-weight", "7"]) == 0
    assert options()["gradient_weight"] == 3 and "grad_diff" in read_log(tmp_path, "hypernet-pre")[-1]
    assert options()["timbre_weight"] == 7
    assert main([*args, "--fresh", "--recon-loss", "l2", "--no-recon-known-pitch", "--envelope-weight", "0"]) == 0
    assert options()["recon_known_pitch"] is False and options()["envelope_weight"] == 0
    assert options()["recon_loss"] == "l2" and "recon_mse" in read_log(tmp_path, "hypernet-pre")[-1]
    assert "level_db" not in read_log(tmp_path, "hypernet-pre")[-1]


def test_augment_inputs_adds_noise_and_layers_at_the_notes_peak():
    """A quiet enough noise and no layer leave the note; a loud noise fills its silent tail; the peak is kept."""
    from hyperlib.training.augment import NUM_DRAWS, AugmentConfig, augment_inputs

    cfg, gen = AudioConfig(), torch.Generator().manual_seed(0)
    frames = torch.arange(128, dtype=torch.float32)
    note = (0.4 - 0.02 * frames).clamp(min=-1.0).expand(3, 1, 128, 128).clone()  # silent from frame 70
    other = torch.rand(3, 1, 128, 128, generator=gen) - 0.5
    u, texture = torch.rand(3, NUM_DRAWS, generator=gen), torch.randn(3, 1, 128, 128, generator=gen)
    unchanged = augment_inputs(note, other, u, texture, cfg, AugmentConfig(noise_db=(-300.0, -300.0), layer_p=0.0))
    assert torch.allclose(unchanged, note, atol=1e-4)
    noisy = augment_inputs(note, other, u, texture, cfg, AugmentConfig(noise_db=(0.0, 0.0), layer_p=0.0,
                                                                       decay_s=(10.0, 10.0)))
    assert noisy[..., 80:].mean() > note[..., 80:].mean() + 0.3
    assert torch.allclose(noisy.amax(dim=(1, 2, 3)), note.amax(dim=(1, 2, 3)), atol=1e-4)
    layered = augment_inputs(note, other, u, texture, cfg, AugmentConfig(noise_db=(-300.0, -300.0), layer_p=1.0,
                                                                         layer_db=(0.0, 0.0)))
    assert layered[..., 80:].mean() > note[..., 80:].mean() + 0.3  # the layer's level, where the note is silent
    with pytest.raises(ValueError, match="u of shape"):
        augment_inputs(note, other, u[:, :3], texture, cfg)


@pytest.mark.slow
def test_hypernet_stage_reconstructs_augmented_inputs(trained, tiny_corpus, small_cfg, tmp_path):
    """With augment_p = 1 every row is an out-of-domain input at its own pitch: its target is that input, and
    its h is f of it, not the corpus note's."""
    from types import SimpleNamespace

    from hyperlib.config import TrainConfig
    from hyperlib.training.distributed import Processes
    from hyperlib.training.stages import hyper_batch

    model_dir = copy_trained(trained, tmp_path)
    corpus = load_corpus(tiny_corpus)
    bank = NoteBank(corpus)
    f = ckpt.load_network(model_dir, "f", small_cfg, "cpu")
    h_all = bank.features(f, "cpu")
    bank.build_knn(h_all, 4)
    s = SimpleNamespace(tc=TrainConfig(batch_size=8, p_recon=0.0, augment_p=1.0, recon_known_pitch=True),
                        bank=bank, procs=Processes(), device=torch.device("cpu"), audio=corpus.audio_config)
    torch.manual_seed(0)
    i, p, real, h, x, known = hyper_batch(s, h_all, f)
    assert torch.equal(p, bank.pitch[i]) and known.tolist() == [1.0] * 8
    assert torch.equal(real, bank.batch(i, "cpu"))  # D's real notes stay corpus notes
    assert (x - real).abs().mean() > 0.01
    assert torch.allclose(h, f(x), atol=1e-5) and not torch.allclose(h, h_all[i], atol=1e-3)
    train("hypernet-pre", tiny_corpus, tmp_path, small_cfg, steps=4, batch_size=8, augment_p=0.5)
    assert ckpt.read_config(tmp_path)["training"]["hypernet-pre"]["options"]["augment_p"] == 0.5
    assert "of the inputs given a noise part" in write_model_card(tmp_path, "A tiny test corpus.").read_text()


@pytest.mark.slow
def test_feature_stage_trains_on_augmented_inputs(tiny_corpus, small_cfg, tmp_path, monkeypatch):
    """With augment_p = 1 every input of f is an augmented note; without it nothing is drawn or augmented."""
    from hyperlib.training import stages

    calls, augment_inputs = [], stages.augment_inputs

    def spy(x, *args, **kwargs):
        calls.append(x.shape[0])
        return augment_inputs(x, *args, **kwargs)

    monkeypatch.setattr(stages, "augment_inputs", spy)
    train("features", tiny_corpus, tmp_path, small_cfg, steps=3, batch_size=4)
    assert calls == []
    train("features", tiny_corpus, tmp_path, small_cfg, steps=3, batch_size=4, augment_p=1.0, fresh=True)
    assert calls == [4, 4, 4]
    assert ckpt.read_config(tmp_path)["training"]["features"]["options"]["augment_p"] == 1.0
    assert "their instrument and pitch labels kept" in write_model_card(tmp_path, "A tiny test corpus.").read_text()


@pytest.mark.slow
def test_hypernet_stage_adds_timbre_mixes(trained, tiny_corpus, small_cfg, tmp_path, monkeypatch):
    """mix_rows adds to every step rows whose h lies between two notes' h, each paired with one of the notes
    nearest to the mix (its pitch and D's real note)."""
    from types import SimpleNamespace

    from hyperlib.config import TrainConfig
    from hyperlib.training import stages
    from hyperlib.training.distributed import Processes

    model_dir = copy_trained(trained, tmp_path)
    bank = NoteBank(load_corpus(tiny_corpus))
    h_all = bank.features(ckpt.load_network(model_dir, "f", small_cfg, "cpu"), "cpu")
    bank.build_knn(h_all, 4)
    ends, picked, neighbours_of = iter([torch.full((6,), 0), torch.full((6,), 20)]), [], bank.neighbours_of
    bank.sample = lambda n: next(ends)
    bank.neighbours_of = lambda h: picked.append(neighbours_of(h)) or picked[-1]
    s = SimpleNamespace(tc=TrainConfig(mix_rows=6), bank=bank, procs=Processes(), device=torch.device("cpu"))
    p, real, h = stages.mix_batch(s, h_all)
    a = ((h - h_all[20]) @ (h_all[0] - h_all[20])) / (h_all[0] - h_all[20]).square().sum()
    assert torch.allclose(h, a[:, None] * h_all[0] + (1 - a[:, None]) * h_all[20], atol=1e-5)
    assert torch.all((a >= 0) & (a <= 1)) and a.std() > 0.05
    (j,) = picked  # each mix's real note and pitch: one of its 4 nearest notes
    assert torch.equal(real, bank.batch(j, "cpu")) and torch.equal(p, bank.pitch[j])
    cos = torch.nn.functional.normalize(h, dim=1) @ torch.nn.functional.normalize(h_all, dim=1).T
    assert torch.all(cos.gather(1, j[:, None])[:, 0] >= cos.sort(dim=1, descending=True).values[:, 3] - 1e-6)

    sizes, refine = [], stages.refine
    monkeypatch.setattr(stages, "refine", lambda G, f, H, h, *args: sizes.append(len(h)) or refine(G, f, H, h, *args))
    train("hypernet-adv", tiny_corpus, tmp_path, small_cfg, steps=2, batch_size=4, mix_rows=3)
    assert sizes == [7, 7]
    assert ckpt.read_config(tmp_path)["training"]["hypernet-adv"]["options"]["mix_rows"] == 3
    assert "+ 3 rows per step whose h mixes" in write_model_card(tmp_path, "A tiny test corpus.").read_text()


def test_l_pre_reconstruction_as_absolute_error():
    """recon_loss="l1" weighs |x - x_fine| instead of its square, logged as recon_l1; other names are refused."""
    from types import SimpleNamespace

    from hyperlib.config import TrainConfig
    from hyperlib.training.losses import l_pre

    truth = torch.zeros(1, 1, 128, 128)
    x_fine = torch.full((1, 1, 128, 128), 0.1)
    f = torch.nn.Flatten()
    stage = lambda **tc: SimpleNamespace(tc=TrainConfig(timbre_weight=0.0, recon_weight=1.0, **tc),  # noqa: E731
                                         audio=AudioConfig())
    squared, logs = l_pre(stage(), f, f(x_fine), truth, x_fine, torch.ones(1), 1.0)
    absolute, logs_l1 = l_pre(stage(recon_loss="l1"), f, f(x_fine), truth, x_fine, torch.ones(1), 1.0)
    assert squared.item() == pytest.approx(0.01) and logs["recon_mse"] == pytest.approx(0.01)
    assert absolute.item() == pytest.approx(0.1) and logs_l1["recon_l1"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="recon_loss"):
        l_pre(stage(recon_loss="huber"), f, f(x_fine), truth, x_fine, torch.ones(1), 1.0)


def test_gradient_difference_asks_for_the_targets_sharpness():
    """A blurred copy of a textured mel scores worse than the mel itself, a shifted copy of its level or its mirror
    image (every change the same size, the other sign); in l_pre the term counts only where the target is known
    and pushes the blurred output towards more texture."""
    from types import SimpleNamespace

    from hyperlib.config import TrainConfig
    from hyperlib.training.losses import gradient_difference, l_pre

    gen = torch.Generator().manual_seed(0)
    truth = 0.3 * torch.rand(2, 1, 128, 128, generator=gen) - 0.5
    blurred = torch.nn.functional.avg_pool2d(truth, 5, stride=1, padding=2, count_include_pad=False)
    assert torch.allclose(gradient_difference(truth, truth), torch.zeros(2))
    assert torch.allclose(gradient_difference(truth + 0.2, truth), torch.zeros(2), atol=1e-6)  # level is not its job
    assert torch.allclose(gradient_difference(-truth, truth), torch.zeros(2), atol=1e-6)  # nor the sign of a change
    assert (gradient_difference(blurred, truth) > 0.1).all()
    f = torch.nn.Flatten()
    x_fine = blurred.clone().requires_grad_(True)
    stage = lambda **tc: SimpleNamespace(tc=TrainConfig(timbre_weight=0.0, recon_weight=0.0, **tc),  # noqa: E731
                                         audio=AudioConfig())
    loss, logs = l_pre(stage(gradient_weight=2.0), f, f(blurred), truth, x_fine, torch.tensor([1.0, 0.0]), 1.0)
    expected = gradient_difference(blurred, truth)[0].item()
    assert logs["grad_diff"] == pytest.approx(expected, rel=1e-5)
    assert loss.item() == pytest.approx(2.0 * expected / 2, rel=1e-5)
    (grad,) = torch.autograd.grad(loss, x_fine)
    assert grad[1].abs().sum() == 0
    sharper = (x_fine - 1e-3 * grad / grad.abs().max()).detach()  # a small step down the gradient
    assert gradient_difference(sharper, truth)[0] < expected
    paper, paper_logs = l_pre(stage(), f, f(blurred), truth, x_fine, torch.ones(2), 1.0)
    assert "grad_diff" not in paper_logs and paper.item() == 0


@pytest.mark.slow
def test_adversarial_stage_adds_the_gradient_difference_by_default(trained):
    """hypernet-adv trains with the gradient difference loss unless told otherwise; hypernet-pre does not."""
    model_dir, after = trained
    assert after["hypernet-adv"]["config"]["training"]["hypernet-adv"]["options"]["gradient_weight"] > 0
    assert all(r["grad_diff"] > 0 for r in read_log(model_dir, "hypernet-adv"))
    assert after["hypernet-pre"]["config"]["training"]["hypernet-pre"]["options"]["gradient_weight"] == 0
    assert all("grad_diff" not in r for r in read_log(model_dir, "hypernet-pre"))


def test_the_generator_check_scores_the_same_notes_and_tells_a_worse_G(tiny_corpus, tmp_path):
    from hyperlib.training.heldout import generator_heldout

    shipped = generator_heldout("checkpoints", tiny_corpus, notes=12, max_shift=12, seed=1)
    assert shipped["notes"] == 12 and 0 < shipped["pairs"] <= 12
    assert shipped == generator_heldout("checkpoints", tiny_corpus, notes=12, max_shift=12, seed=1)
    worse = tmp_path / "model"
    worse.mkdir()
    for name in ("config.json", "f.safetensors"):
        shutil.copy2(f"checkpoints/{name}", worse / name)
    ckpt.write_hashes(worse)
    G = ckpt.load_network("checkpoints", "G")
    with torch.no_grad():
        for conv in G.convs:
            conv.weight.add_(0.5 * torch.randn_like(conv.weight))
    ckpt.save_network(worse, "G", G)
    scored = generator_heldout(worse, tiny_corpus, notes=12, max_shift=12, seed=1)
    assert scored["reconstruction"] > shipped["reconstruction"] and scored["synthesis"] > shipped["synthesis"]
