"""What the timbre faders do, measured: descriptors of vocoded renders along each direction, and PCA in h
against PCA in w (G's mapping output).

``fader_build.build_and_measure`` writes both to ``faders.json`` beside ``faders.safetensors``;
``fader_report.report_markdown`` turns them into ``docs/faders.md``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..config import REFINE_STEPS
from ..render import render_mels, vocode
from .descriptors import DESCRIPTORS, describe, mel_l1, pitch_cents
from .faders import FADERS_JSON, Faders, fit_pca

if TYPE_CHECKING:
    from ..corpus import Corpus
    from ..pipeline import Pipeline

MEASURE_VALUES = (-2.0, -1.0, 0.0, 1.0, 2.0)
WORDS = {  # descriptor -> (word for a decrease, word for an increase)
    "centroid_hz": ("darker", "brighter"),
    "attack_per_s": ("softer attack", "sharper attack"),
    "flatness": ("purer / more tonal", "noisier"),
    "decay_db": ("shorter decay", "longer sustain"),
}


def pick_timbres(corpus: "Corpus", codes: np.ndarray, count: int = 8, pitch: int = 60,
                 seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """``count`` pitched corpus instruments spread over the instrument ids, each by its note nearest ``pitch``.

    Returns ((count, D) codes, names "font:preset").
    """
    inst, pitches, pitched = corpus.column("instrument_id"), corpus.column("pitch"), corpus.column("pitched")
    ids = np.unique(inst[pitched.astype(bool)])
    rng = np.random.default_rng(seed)
    chosen = ids if len(ids) <= count else np.sort(rng.choice(ids, count, replace=False))
    rows = []
    for i in chosen:
        cand = np.flatnonzero((inst == i) & pitched.astype(bool))
        rows.append(int(cand[np.argmin(np.abs(pitches[cand] - pitch))]))
    names = [f"{corpus.notes[r].soundfont}:{corpus.notes[r].preset_name}" for r in rows]
    return codes[rows], names


def _within_stats(values: np.ndarray, desc: np.ndarray) -> dict:
    """Slope and correlation of a descriptor against fader values, within timbre.

    values: (V,) fader values; desc: (T, V) descriptor per timbre and value. The pooled slope
    removes each timbre's mean (fixed effects); r is Pearson's on the centered pooled data.
    """
    g = values - values.mean()
    d = desc - desc.mean(axis=1, keepdims=True)
    slope = float((d * g).sum() / (desc.shape[0] * (g ** 2).sum()))
    den = math.sqrt(float((d ** 2).sum()) * desc.shape[0] * float((g ** 2).sum()))
    r = float((d * g).sum() / den) if den > 0 else 0.0
    per = (d * g).sum(axis=1)
    agree = float(np.mean(np.sign(per) == np.sign(slope))) if slope != 0 else 0.0
    return {"slope_per_std": slope, "r": r, "sign_agreement": agree}


UNITS = {"centroid_hz": "Hz", "attack_per_s": "1/s", "flatness": "", "decay_db": "dB"}
"""The unit of each descriptor's value (``descriptors.DESCRIPTORS``)."""
MIN_R, MIN_REL = 0.4, 0.1
"""A descriptor is named for a fader when |r| >= 0.4 and one std moves it by >= 10 % of its between-timbre spread."""


def notable(stats: dict) -> list[tuple[str, dict]]:
    """The descriptors a fader clearly moves (|r| >= MIN_R, |relative slope| >= MIN_REL), strongest first
    (by |r| x |relative slope|)."""
    ranked = sorted(stats.items(), key=lambda kv: -abs(kv[1]["r"]) * abs(kv[1].get("relative_slope", 1.0)))
    return [(n, s) for n, s in ranked if abs(s["r"]) >= MIN_R and abs(s.get("relative_slope", 1.0)) >= MIN_REL]


QUALITIES = {"centroid_hz": "brightness", "attack_per_s": "attack", "flatness": "noisiness", "decay_db": "sustain"}
"""descriptor -> the quality it measures, as a slider's title names it."""
MAX_NAMED = 3
"""A fader's label names at most this many ``notable`` descriptors, strongest first."""


def label_for(stats: dict) -> str:
    """Which way is which on a slider, from measured descriptor stats, e.g. "left: darker, shorter decay;
    right: brighter, longer sustain".

    Names at most MAX_NAMED ``notable`` descriptors, strongest first; left is the negative end of the slider.
    """
    left, right = [], []
    for name, s in notable(stats)[:MAX_NAMED]:
        lo, hi = WORDS[name]
        left.append(lo if s["slope_per_std"] > 0 else hi)
        right.append(hi if s["slope_per_std"] > 0 else lo)
    if not left:
        return f"no clear change (no descriptor moves with |r| >= {MIN_R} and >= {MIN_REL:.0%} of its spread)"
    return f"left: {', '.join(left)}; right: {', '.join(right)}"


def slider_labels(measured_faders: list[dict], count: int) -> list[tuple[str, str]]:
    """(title, which way is which) for sliders 0 .. count - 1, from ``measure_faders``' per-fader entries.

    The title names the qualities a fader was measured to change ("Fader 1: sustain, noisiness, brightness"),
    the second part which end does what (``label_for``). Faders whose measured qualities read alike get their
    strongest descriptor's measured slope in the title, e.g. "sustain +2.0 dB per std", so that no two titles
    read the same. A fader that was not measured is titled "Fader k" with an empty second part.
    """
    by_index = {int(f["fader"]): f for f in measured_faders}
    qualities = {k: [QUALITIES[n] for n, _ in notable(f["descriptors"])[:MAX_NAMED]] or ["no clear change"]
                 for k, f in by_index.items()}
    out = []
    for k in range(count):
        if k not in by_index:
            out.append((f"Fader {k}", ""))
            continue
        title = ", ".join(qualities[k])
        if any(j != k and qualities[j] == qualities[k] for j in qualities):
            ranked = notable(by_index[k]["descriptors"]) or sorted(
                by_index[k]["descriptors"].items(), key=lambda kv: -abs(kv[1]["r"]))
            name, s = ranked[0]
            title += f" ({QUALITIES[name]} {s['slope_per_std']:+.3g} {UNITS[name]} per std)".replace("  ", " ")
        out.append((f"Fader {k}: {title}", label_for(by_index[k]["descriptors"])))
    return out


def measure_faders(model: "Pipeline", fader_set: Faders, timbre_codes: np.ndarray,
                   faders: tuple[int, ...] = (0, 1, 2, 3), values=MEASURE_VALUES, pitch: int = 60,
                   method: str = "hyper", steps: int = REFINE_STEPS, timbre_names: list[str] | None = None) -> dict:
    """Render each timbre with each fader at each value and measure the vocoded audio.

    Args:
        timbre_codes: (T, D) h codes of a few corpus timbres.
        faders: fader indices to measure (those >= K are skipped).
        values: fader values in std units (e.g. -2, -1, 0, 1, 2).
    Returns:
        A JSON-ready dict: per fader, per descriptor (``descriptors.DESCRIPTORS``) the within-timbre slope
        per std, Pearson r, the slope relative to the across-timbre std of that descriptor
        ("relative_slope": 1.0 means one fader std moves the descriptor as much as switching to a
        typical other instrument), sign agreement over timbres; the mean log-mel L1 change per std;
        the raw descriptor table; |cents| from ``pitch`` by pYIN per timbre and value ("pitch_cents", its
        median over timbres per value "pitch_cents_median"); and a label.
    """
    values = np.asarray(values, dtype=np.float64)
    sr = model.audio_config.sample_rate
    faders = tuple(k for k in faders if k < fader_set.num_faders)
    base_desc = None
    out = []
    for k in faders:
        codes = np.stack([c + v * fader_set.std[k] * fader_set.components[k] for c in timbre_codes for v in values])
        mels = render_mels(model.nets, codes, pitch, method, steps, device=model.device)
        mels = mels.reshape(len(timbre_codes), len(values), *mels.shape[1:])
        desc = {name: np.zeros((len(timbre_codes), len(values))) for name in DESCRIPTORS}
        cents = np.zeros((len(timbre_codes), len(values)))
        for t in range(len(timbre_codes)):
            for j in range(len(values)):
                audio = vocode(model.vocoder, mels[t, j], pitch, model.audio_config.peak_dbfs)
                d = describe(audio, sr)
                for name in DESCRIPTORS:
                    desc[name][t, j] = d[name]
                cents[t, j] = pitch_cents(audio, sr, pitch)
        if base_desc is None:  # spread of each descriptor across timbres at fader value 0
            zero = int(np.argmin(np.abs(values)))
            base_desc = {n: float(np.std(desc[n][:, zero])) for n in DESCRIPTORS}
        stats = {}
        for name in DESCRIPTORS:
            s = _within_stats(values, desc[name])
            s["relative_slope"] = s["slope_per_std"] / base_desc[name] if base_desc[name] > 0 else 0.0
            stats[name] = s
        steps_l1 = mel_l1(mels[:, 1:], mels[:, :-1]) / np.diff(values)[None]
        out.append({"fader": int(k), "explained_variance_ratio": float(fader_set.explained[k]),
                    "std": float(fader_set.std[k]), "descriptors": stats,
                    "mel_l1_per_std": float(steps_l1.mean()),
                    "step_cv": float(np.mean(steps_l1.std(axis=1) / np.maximum(steps_l1.mean(axis=1), 1e-12))),
                    "label": label_for(stats),
                    "pitch_cents_median": [float(np.nanmedian(cents[:, j])) if np.any(np.isfinite(cents[:, j]))
                                           else None for j in range(len(values))],
                    "table": {n: np.round(desc[n], 4).tolist() for n in DESCRIPTORS},
                    "pitch_cents": [[None if not np.isfinite(c) else round(float(c), 1) for c in row]
                                    for row in cents]})
    return {"values": values.tolist(), "pitch": int(pitch), "method": method, "steps": int(steps),
            "vocoder": model.vocoder_name,
            "timbres": timbre_names or [f"timbre {i}" for i in range(len(timbre_codes))],
            "descriptor_units": DESCRIPTORS, "across_timbre_std": base_desc, "faders": out}


# -- h versus w ----------------------------------------------------------------------------------------
@torch.no_grad()
def w_codes(model: "Pipeline", h: np.ndarray, pitch: np.ndarray | int) -> np.ndarray:
    """w = G.mapping(h, 0, p): (N, h_dim) codes and (N,) or scalar MIDI pitches -> (N, w_dim)."""
    G = model.nets["G"]
    ht = torch.from_numpy(np.asarray(h, np.float32)).to(model.device)
    p = torch.as_tensor(np.broadcast_to(np.asarray(pitch), (len(ht),)).copy()).long().to(model.device)
    return G.mapping(ht, ht.new_zeros(len(ht), model.model_config.z_dim), p).cpu().numpy()


@torch.no_grad()
def _render_w(model: "Pipeline", w: np.ndarray, pitch: int) -> np.ndarray:
    """(N, w_dim) codes w rendered by G's synthesis network alone at MIDI ``pitch`` -> (N, n_mels, frames)."""
    wt = torch.from_numpy(np.asarray(w, np.float32)).to(model.device)
    x = model.nets["G"].synthesis(wt, torch.full((len(wt),), pitch, device=model.device))
    return x[:, 0].cpu().numpy()


def _pitch_r2(coords: np.ndarray, pitches: np.ndarray) -> float:
    """R^2 of a least-squares fit of MIDI pitch from (N, K) coordinates (with intercept)."""
    a = np.concatenate([coords, np.ones((len(coords), 1))], axis=1)
    coef, *_ = np.linalg.lstsq(a, pitches.astype(np.float64), rcond=None)
    resid = pitches - a @ coef
    return float(1 - resid.var() / max(pitches.var(), 1e-12))


def compare_spaces(model: "Pipeline", h_codes: np.ndarray, pitches: np.ndarray,
                   timbre_codes: np.ndarray, num_faders: int = 4, values=MEASURE_VALUES, pitch: int = 60) -> dict:
    """PCA faders in h (f's output) versus in w (G's mapping output), both rendered by plain G (no H).

    Args:
        h_codes: (N, h_dim) corpus codes; pitches: (N,) their MIDI pitches (w depends on pitch).
        timbre_codes: (T, h_dim) the timbres to edit at ``pitch``.
    Returns:
        per space: "pitch_r2" (how much of the MIDI pitch the first ``num_faders`` coordinates predict
        linearly: a timbre fader should not carry pitch), "explained" (variance ratios), "step_cv"
        (coefficient of variation of the log-mel L1 of consecutive fader steps -2..2, mean over faders
        and timbres; lower = more even), "mel_l1_per_std", "max_abs_r" (mean over faders of the
        largest |r| between fader value and a descriptor; higher = a more consistent, nameable change),
        "pitch_cents_at_ends" (median |cents| from ``pitch`` by pYIN of the renders at the extreme fader
        values) and "pitch_off_semitone_at_ends" (the fraction of them 50 cents or more off, or unvoiced).
    """
    values = np.asarray(values, np.float64)
    sr = model.audio_config.sample_rate
    ws = w_codes(model, h_codes, pitches)
    out = {}
    for space, codes in (("h", h_codes), ("w", ws)):
        fs = fit_pca(codes, num_faders, space)
        base = timbre_codes if space == "h" else w_codes(model, timbre_codes, pitch)
        cvs, l1s, rs, cents = [], [], [], []
        for k in range(fs.num_faders):
            edited = np.stack([c + v * fs.std[k] * fs.components[k] for c in base for v in values])
            mels = render_mels(model.nets, edited, pitch, "gan", 0, device=model.device) if space == "h" else _render_w(model, edited, pitch)
            mels = mels.reshape(len(base), len(values), *mels.shape[1:])
            step = mel_l1(mels[:, 1:], mels[:, :-1]) / np.diff(values)[None]
            cvs.append(float(np.mean(step.std(axis=1) / np.maximum(step.mean(axis=1), 1e-12))))
            l1s.append(float(step.mean()))
            audio = [[vocode(model.vocoder, m, pitch, model.audio_config.peak_dbfs) for m in row] for row in mels]
            desc = np.array([[list(describe(a, sr).values()) for a in row] for row in audio])
            rs.append(max(abs(_within_stats(values, desc[:, :, i])["r"]) for i in range(desc.shape[2])))
            ends = [j for j, v in enumerate(values) if abs(v) == np.abs(values).max()]
            cents += [pitch_cents(row[j], sr, pitch) for row in audio for j in ends]
        out[space] = {"pitch_r2": _pitch_r2(fs.coords(codes), pitches), "explained": fs.explained.tolist(),
                      "step_cv": float(np.mean(cvs)), "mel_l1_per_std": float(np.mean(l1s)),
                      "max_abs_r": float(np.mean(rs)), "per_fader_step_cv": cvs, "per_fader_max_abs_r": rs,
                      "pitch_cents_at_ends": float(np.nanmedian(cents)) if np.any(np.isfinite(cents)) else None,
                      "pitch_off_semitone_at_ends": float(np.mean([not (c < 50) for c in cents]))}
    return out


def load_labels(model_dir: str | Path | None, count: int = 4) -> list[tuple[str, str]]:
    """Slider labels (title, which way is which) for faders 0 .. count - 1, derived from the measurement in
    ``model_dir/faders.json`` (``slider_labels``); ("Fader k", "") where it is absent."""
    path = Path(model_dir) / FADERS_JSON if model_dir else None
    measured = []
    if path is not None and path.is_file():
        measured = json.loads(path.read_text()).get("measurement", {}).get("faders", [])
    return slider_labels(measured, count)
