"""Timbre faders: principal directions of the timbre space, measured and shipped with the checkpoint.

Following the style-based drum synthesis paper (Drysdale et al., sec. 2.2, after GANSpace), PCA finds
the principal axes of a latent distribution and a fader moves a code along one axis: h' = h + V^T g.
Here the PCA runs over h = f(x) of the training corpus (the space the hypernetwork refines towards),
and g is expressed in units of each component's standard deviation, so fader value 1.0 is a typical
one-sigma move of the corpus::

    model = HyperGANStrument.from_pretrained()
    r = model.edit("piano.wav", faders={0: 1.5, 3: -2.0}, pitch=60, method="hyper", steps=3)

``python -m hyperlib faders --corpus data/fluidr3 --model checkpoints`` writes ``faders.safetensors``
(mean, components, per-component std) and ``faders.json`` (what each direction measurably does, see
``measure_faders``) into the model folder, and optionally the doc ``docs/faders.md``.
"""
from __future__ import annotations

import json
import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from torch import nn

from .codes import DESCRIPTORS, corpus_codes, describe, mel_l1, pitch_cents, render_mels, vocode
from .config import REFINE_STEPS

if TYPE_CHECKING:
    from .corpus import Corpus
    from .pipeline import HyperGANStrument, Result

FADERS_FILE = "faders.safetensors"
FADERS_JSON = "faders.json"
BUILD_COMMAND = "python -m hyperlib faders --corpus data/fluidr3 --model {model}"
MAX_FADER = 10.0
"""Largest accepted |fader value| in standard deviations."""
MEASURE_VALUES = (-2.0, -1.0, 0.0, 1.0, 2.0)
WORDS = {  # descriptor -> (word for a decrease, word for an increase)
    "centroid_hz": ("darker", "brighter"),
    "attack_per_s": ("softer attack", "sharper attack"),
    "flatness": ("purer / more tonal", "noisier"),
    "decay_db": ("shorter decay", "longer sustain"),
}


@dataclass
class Faders:
    """Principal directions of a code space.

    mean: (D,) code mean. components: (K, D) orthonormal rows, the principal directions by decreasing
    variance. std: (K,) standard deviation of the corpus codes along each direction (code units).
    explained: (K,) fraction of the total variance each direction explains. space: "h" (f's timbre
    feature, what ``edit`` moves) or "w" (G's mapping output, only used for the comparison).
    """

    mean: np.ndarray
    components: np.ndarray
    std: np.ndarray
    explained: np.ndarray
    space: str = "h"
    num_codes: int = 0

    @property
    def num_faders(self) -> int:
        return int(self.components.shape[0])

    def offset(self, faders: Mapping[int, float]) -> np.ndarray:
        """(D,) float32 code offset sum_k g_k * std_k * V_k for ``faders`` {index: g in std units}.

        Raises ValueError for an index outside 0..K-1 or a value that is not a finite number in +-10.
        """
        out = np.zeros(self.components.shape[1], dtype=np.float64)
        for k, g in dict(faders).items():
            ok_k = isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 0 <= k < self.num_faders
            if not ok_k:
                raise ValueError(f"Fader index must be a whole number in 0-{self.num_faders - 1}, got {k!r}.")
            ok_g = isinstance(g, (int, float, np.integer, np.floating)) and not isinstance(g, bool)
            if not ok_g or not math.isfinite(g) or abs(g) > MAX_FADER:
                raise ValueError(f"Fader {k} must be a number of standard deviations in -{MAX_FADER:g} to "
                                 f"{MAX_FADER:g}, got {g!r}.")
            out += float(g) * float(self.std[k]) * self.components[k].astype(np.float64)
        return out.astype(np.float32)

    def coords(self, codes: np.ndarray) -> np.ndarray:
        """(N, D) codes -> (N, K) fader coordinates in std units."""
        return (np.asarray(codes, np.float64) - self.mean) @ self.components.T / self.std

    def save(self, path: str | Path) -> Path:
        """Write a safetensors file (tensors mean, components, std, explained; space in the metadata)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({"mean": self.mean.astype(np.float32), "components": self.components.astype(np.float32),
                   "std": self.std.astype(np.float32), "explained": self.explained.astype(np.float32)},
                  str(path), metadata={"space": self.space, "num_codes": str(self.num_codes)})
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Faders":
        """Read a file written by ``save`` (or a model folder holding ``faders.safetensors``).

        Raises FileNotFoundError naming the command that builds it.
        """
        path = Path(path)
        folder = path if path.is_dir() else path.parent
        path = path / FADERS_FILE if path.is_dir() else path
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing: build the timbre faders with "
                                    f"`{BUILD_COMMAND.format(model=folder)}`.")
        from safetensors import safe_open

        from .checkpoint import verify_hash

        verify_hash(path)  # refused if hashes.json records a different sha256; no-op when it does not record it
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
        t = load_file(str(path))
        return cls(t["mean"], t["components"], t["std"], t["explained"], meta.get("space", "h"),
                   int(meta.get("num_codes", 0)))


def fit_pca(codes: np.ndarray, num_components: int = 8, space: str = "h") -> Faders:
    """PCA of (N, D) codes by numpy SVD of the centered matrix.

    Returns ``Faders`` with K = min(num_components, N - 1, D) orthonormal components (sign fixed so
    that each component's largest entry is positive), their std (singular value / sqrt(N - 1)) and the
    explained-variance ratios.
    """
    x = np.asarray(codes, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"PCA needs at least two codes of shape (N, D), got {x.shape}.")
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    k = int(min(num_components, x.shape[0] - 1, x.shape[1]))
    vt = vt[:k] * np.sign(vt[:k][np.arange(k), np.argmax(np.abs(vt[:k]), axis=1)])[:, None]
    var = s ** 2 / (x.shape[0] - 1)
    return Faders(mean.astype(np.float32), vt.astype(np.float32), np.sqrt(var[:k]).astype(np.float32),
                  (var[:k] / var.sum()).astype(np.float32), space, int(x.shape[0]))


def build_faders(model: "HyperGANStrument", mels: np.ndarray, num_components: int = 8) -> Faders:
    """Faders over h = f(x) of ``mels`` ((N, n_mels, frames) corpus log-mels)."""
    return fit_pca(corpus_codes(model, mels), num_components, "h")


def edit(model: "HyperGANStrument", sound, faders: Mapping[int, float], pitch: int | None = None,
         method: str = "hyper", steps: int = REFINE_STEPS, fader_set: Faders | None = None) -> "Result":
    """Move a sound's timbre code along the fader directions and render it at ``pitch``.

    h' = h + sum_k g_k std_k V_k, with h = f(x) (or E's h for "encoder", whose z is kept). For the
    hyper methods the hypernetwork refines G towards the *edited* h' (it is both G's input and H's
    target). All-zero faders give exactly ``model.synthesize(sound, pitch, method, steps)``.

    Args:
        faders: {fader index: value in standard deviations}, e.g. {0: 1.5, 3: -2.0}.
        pitch: MIDI 21-108; None estimates the input's pitch (as ``reconstruct``).
        fader_set: the directions (default ``model.load_faders()``, i.e. the model folder's file).
    Raises:
        FileNotFoundError: the model folder has no faders.safetensors (the message names the command).
        ValueError / AudioError: bad fader, pitch, method, steps or audio.
    """
    from .pipeline import _check_method, _check_steps, _timed, check_pitch

    _check_method(method)
    steps = _check_steps(steps)
    fader_set = fader_set or model.load_faders()
    offset = fader_set.offset(faders)
    timings: dict = {}
    note = model._load_timed(sound, timings)
    if pitch is None:
        with _timed(timings, "pitch_estimate"):
            pitch = model.estimate_pitch(note)
    pitch = check_pitch(pitch, model.model_config)
    h, z = model._invert(note, method, timings)
    if np.any(offset != 0):
        h = h + torch.from_numpy(offset).to(h.device)[None]
    result = model._render(method, h, z, pitch, steps, timings)
    timings["total"] = sum(timings.values())
    return result


# -- measuring what the directions do ------------------------------------------------------------------
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


MIN_R, MIN_REL = 0.4, 0.1
"""A descriptor is named for a fader when |r| >= 0.4 and one std moves it by >= 10 % of its between-timbre spread."""


def notable(stats: dict) -> list[tuple[str, dict]]:
    """The descriptors a fader clearly moves (|r| >= MIN_R, |relative slope| >= MIN_REL), strongest first
    (by |r| x |relative slope|)."""
    ranked = sorted(stats.items(), key=lambda kv: -abs(kv[1]["r"]) * abs(kv[1].get("relative_slope", 1.0)))
    return [(n, s) for n, s in ranked if abs(s["r"]) >= MIN_R and abs(s.get("relative_slope", 1.0)) >= MIN_REL]


def label_for(stats: dict) -> str:
    """A slider label from measured descriptor stats, e.g. "darker <-> brighter, shorter decay <-> longer sustain".

    Names at most two ``notable`` descriptors; the left word is the negative end of the slider.
    """
    parts = []
    for name, s in notable(stats):
        if len(parts) < 2:
            lo, hi = WORDS[name]
            parts.append(f"{lo} \u2194 {hi}" if s["slope_per_std"] > 0 else f"{hi} \u2194 {lo}")
    return ", ".join(parts) if parts else "mixed / subtle"


def measure_faders(model: "HyperGANStrument", fader_set: Faders, timbre_codes: np.ndarray,
                   faders: tuple[int, ...] = (0, 1, 2, 3), values=MEASURE_VALUES, pitch: int = 60,
                   method: str = "hyper", steps: int = REFINE_STEPS, timbre_names: list[str] | None = None) -> dict:
    """Render each timbre with each fader at each value and measure the vocoded audio.

    Args:
        timbre_codes: (T, D) h codes of a few corpus timbres.
        faders: fader indices to measure (those >= K are skipped).
        values: fader values in std units (e.g. -2, -1, 0, 1, 2).
    Returns:
        A JSON-ready dict: per fader, per descriptor (``codes.DESCRIPTORS``) the within-timbre slope
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
        mels = render_mels(model, codes, pitch, method, steps)
        mels = mels.reshape(len(timbre_codes), len(values), *mels.shape[1:])
        desc = {name: np.zeros((len(timbre_codes), len(values))) for name in DESCRIPTORS}
        cents = np.zeros((len(timbre_codes), len(values)))
        for t in range(len(timbre_codes)):
            for j in range(len(values)):
                audio = vocode(model, mels[t, j], pitch)
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
class _FixedW(nn.Module):
    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = w

    def forward(self, h, z, pitch):  # the mapping network's signature
        return self.w


@contextmanager
def _fixed_w(G: nn.Module, w: torch.Tensor):
    """Temporarily replace G's mapping network by a constant w (B, w_dim)."""
    original = G.mapping
    G.mapping = _FixedW(w)
    try:
        yield
    finally:
        G.mapping = original


@torch.no_grad()
def w_codes(model: "HyperGANStrument", h: np.ndarray, pitch: np.ndarray | int) -> np.ndarray:
    """w = G.mapping(h, 0, p): (N, h_dim) codes and (N,) or scalar MIDI pitches -> (N, w_dim)."""
    G = model.nets["G"]
    ht = torch.from_numpy(np.asarray(h, np.float32)).to(model.device)
    p = torch.as_tensor(np.broadcast_to(np.asarray(pitch), (len(ht),)).copy()).long().to(model.device)
    return G.mapping(ht, ht.new_zeros(len(ht), model.model_config.z_dim), p).cpu().numpy()


@torch.no_grad()
def _render_w(model: "HyperGANStrument", w: np.ndarray, pitch: int) -> np.ndarray:
    G = model.nets["G"]
    wt = torch.from_numpy(np.asarray(w, np.float32)).to(model.device)
    with _fixed_w(G, wt):
        x = G(wt.new_zeros(len(wt), model.model_config.h_dim), None,
              torch.full((len(wt),), pitch, device=model.device))
    return x[:, 0].cpu().numpy()


def _pitch_r2(coords: np.ndarray, pitches: np.ndarray) -> float:
    """R^2 of a least-squares fit of MIDI pitch from (N, K) coordinates (with intercept)."""
    a = np.concatenate([coords, np.ones((len(coords), 1))], axis=1)
    coef, *_ = np.linalg.lstsq(a, pitches.astype(np.float64), rcond=None)
    resid = pitches - a @ coef
    return float(1 - resid.var() / max(pitches.var(), 1e-12))


def compare_spaces(model: "HyperGANStrument", h_codes: np.ndarray, pitches: np.ndarray,
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
            mels = render_mels(model, edited, pitch, "gan", 0) if space == "h" else _render_w(model, edited, pitch)
            mels = mels.reshape(len(base), len(values), *mels.shape[1:])
            step = mel_l1(mels[:, 1:], mels[:, :-1]) / np.diff(values)[None]
            cvs.append(float(np.mean(step.std(axis=1) / np.maximum(step.mean(axis=1), 1e-12))))
            l1s.append(float(step.mean()))
            audio = [[vocode(model, m, pitch) for m in row] for row in mels]
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


# -- the `faders` command ------------------------------------------------------------------------------
def build_and_measure(model_dir: str | Path, corpus_dir: str | Path, num_components: int = 8, timbres: int = 8,
                      pitch: int = 60, steps: int = REFINE_STEPS, max_notes: int | None = None, compare: bool = True,
                      doc: str | Path | None = None, seed: int = 0, log=print) -> dict:
    """Build ``faders.safetensors`` and ``faders.json`` for the model in ``model_dir`` from a corpus.

    The PCA uses h = f(x) of every corpus note (or ``max_notes`` random ones); the measurement renders
    ``timbres`` corpus instruments at ``pitch`` with faders 0-3 at -2..2 std (hyper method, ``steps``);
    ``compare`` adds the h-versus-w comparison. Returns the JSON written.
    """
    from .corpus import load_corpus
    from .pipeline import HyperGANStrument

    t0 = time.perf_counter()
    model = HyperGANStrument.from_pretrained(model_dir)
    corpus = load_corpus(corpus_dir)
    rows = np.arange(len(corpus.notes))
    if max_notes is not None and max_notes < len(rows):
        rows = np.sort(np.random.default_rng(seed).choice(rows, max_notes, replace=False))
    log(f"f over {len(rows)} corpus notes ...")
    codes = corpus_codes(model, corpus.mels[rows])
    fader_set = fit_pca(codes, num_components, "h")
    path = fader_set.save(Path(model_dir) / FADERS_FILE)
    _record_hash(path)
    log(f"wrote {path} ({fader_set.num_faders} directions, explained {np.round(fader_set.explained, 3).tolist()})")
    sub = _subset(corpus, rows)
    timbre_codes, names = pick_timbres(sub, codes, timbres, pitch, seed)
    log(f"measuring faders 0-3 on {len(names)} timbres ...")
    report = {"space": "h", "corpus": str(corpus_dir), "num_codes": int(len(rows)),
              "explained_variance_ratio": fader_set.explained.tolist(), "std": fader_set.std.tolist(),
              "measurement": measure_faders(model, fader_set, timbre_codes, pitch=pitch, steps=steps,
                                            timbre_names=names)}
    if compare:
        log("comparing h and w ...")
        report["h_vs_w"] = compare_spaces(model, codes, sub.column("pitch"), timbre_codes, pitch=pitch)
    report["labels"] = {str(f["fader"]): f["label"] for f in report["measurement"]["faders"]}
    report["wall_time_s"] = round(time.perf_counter() - t0, 1)
    (Path(model_dir) / FADERS_JSON).write_text(json.dumps(report, indent=2) + "\n")
    log(f"wrote {Path(model_dir) / FADERS_JSON}")
    if doc:
        Path(doc).parent.mkdir(parents=True, exist_ok=True)
        Path(doc).write_text(report_markdown(report, str(model_dir)))
        log(f"wrote {doc}")
    return report


def _record_hash(path: Path) -> None:
    """Add (or update) ``path``'s sha256 in its folder's hashes.json, when the folder has one."""
    from .checkpoint import HASHES_FILE, file_sha256

    record = path.parent / HASHES_FILE
    if record.is_file():
        data = json.loads(record.read_text())
        data.setdefault("files", {})[path.name] = file_sha256(path)
        record.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _subset(corpus: "Corpus", rows: np.ndarray) -> "Corpus":
    from .corpus import Corpus

    return Corpus(corpus.mels[:0], [corpus.notes[i] for i in rows], corpus.audio_config)


def load_labels(model_dir: str | Path | None, count: int = 4) -> list[str]:
    """Slider labels "Fader k: <measured meaning>" from ``model_dir/faders.json`` ("Fader k" if absent)."""
    labels = {}
    path = Path(model_dir) / FADERS_JSON if model_dir else None
    if path is not None and path.is_file():
        labels = json.loads(path.read_text()).get("labels", {})
    return [f"Fader {k}: {labels[str(k)]}" if str(k) in labels else f"Fader {k}" for k in range(count)]


def _pitched(measurement: dict) -> bool:
    """True when pYIN finds the requested pitch (within 50 cents) in most fader-0 renders of a measurement."""
    if not measurement["faders"] or "pitch_cents" not in measurement["faders"][0]:
        return False
    j = measurement["values"].index(0.0)
    zero = [row[j] for f in measurement["faders"] for row in f["pitch_cents"]]
    return float(np.mean([c is not None and c < 50 for c in zero])) > 0.5


def report_markdown(report: dict, model_dir: str = "checkpoints") -> str:
    """The measured meaning of the faders as Markdown (tables from ``faders.json``)."""
    m = report["measurement"]
    units = {"centroid_hz": "Hz", "attack_per_s": "1/s", "flatness": "", "decay_db": "dB"}
    lines = ["# Timbre faders", "",
             "Principal directions of the timbre space h = f(x) over the training corpus "
             f"({report['num_codes']} notes of `{report['corpus']}`), shipped as `{model_dir}/{FADERS_FILE}` "
             f"and measured into `{model_dir}/{FADERS_JSON}` by "
             f"`python -m hyperlib faders --corpus {report['corpus']} --model {model_dir}`. "
             "A fader value is in standard deviations of the corpus along that direction; "
             "`model.edit(sound, faders={0: 1.5}, pitch=60)` moves h and lets the hypernetwork refine G "
             "towards the edited h.", "",
             f"Explained variance of the first directions: "
             + ", ".join(f"{100 * v:.1f}%" for v in report["explained_variance_ratio"][:8]) + ".", "",
             "## What each direction does (measured)", "",
             f"Each of {len(m['timbres'])} corpus timbres ({', '.join(m['timbres'])}) was rendered at MIDI "
             f"{m['pitch']} ({m['method']}, {m['steps']} refinement steps, {m.get('vocoder', 'griffin-lim')} vocoder) with one fader at "
             f"{', '.join(f'{v:g}' for v in m['values'])} and the others at 0, and the audio measured with "
             "librosa. *slope* is the within-timbre change per fader std; *r* the within-timbre Pearson "
             "correlation with the fader value; *rel.* the slope divided by the spread of that descriptor across "
             "the timbres (1.0 = one fader std changes it as much as a typical change of instrument); "
             "*agree* the fraction of timbres whose change has the pooled sign.", ""]
    lines += ["| fader | var. | descriptor | slope / std | r | rel. | agree |", "|---|---|---|---|---|---|---|"]
    for f in m["faders"]:
        for i, (name, s) in enumerate(f["descriptors"].items()):
            head = f"| **{f['fader']}** | {100 * f['explained_variance_ratio']:.1f}% " if i == 0 else "| | "
            lines.append(f"{head}| {name} | {s['slope_per_std']:+.4g} {units[name]} | {s['r']:+.2f} | "
                         f"{s['relative_slope']:+.2f} | {s['sign_agreement']:.2f} |")
    lines += ["", "Descriptors: " + "; ".join(f"**{k}**: {v}" for k, v in m["descriptor_units"].items()) + ".", "",
              "## In words", ""]
    for f in m["faders"][:3]:
        parts = [f"{WORDS[n][1] if s['slope_per_std'] > 0 else WORDS[n][0]} (r = {s['r']:+.2f}, "
                 f"{s['slope_per_std']:+.3g} {units[n]} per std, {abs(s['relative_slope']):.2f} of the "
                 "between-timbre spread)" for n, s in notable(f["descriptors"])]
        text = "; ".join(parts[:3]) if parts else (
            f"no descriptor moves both consistently (|r| >= {MIN_R}) and noticeably (>= {MIN_REL:.0%} of its "
            "between-timbre spread per std)")
        pc = f.get("pitch_cents_median")
        pitch_text = "" if not pc or not _pitched(m) else " Pitch (pYIN, median over timbres): " + ", ".join(
            f"{v:+g}: {c:.0f}" if c is not None else f"{v:+g}: unvoiced" for v, c in zip(m["values"], pc)) + \
            " cents from the target."
        lines.append(f"- **Fader {f['fader']}** (moving it up, to positive values): {text}. "
                     f"Mean log-mel change {f['mel_l1_per_std']:.3f} per std.{pitch_text} Slider label: "
                     f"*{f['label']}*.")
    if m["faders"] and "pitch_cents" in m["faders"][0] and not _pitched(m):
        zero = [c for f in m["faders"] for row in f["pitch_cents"] for c in [row[m["values"].index(0.0)]]]
        off = np.mean([c is None or c >= 50 for c in zero])
        lines += ["", f"Pitch is not reported: even with every fader at 0, pYIN finds the requested MIDI "
                  f"{m['pitch']} in only {100 * (1 - off):.0f}% of these renders (this checkpoint's "
                  f"{m.get('vocoder', 'griffin-lim')} output is not clearly pitched), so a fader's effect on pitch cannot be measured here. The "
                  "numbers are in faders.json (`pitch_cents`)."]
    if "h_vs_w" in report:
        c = report["h_vs_w"]
        lines += ["", "## Why h and not w", "",
                  "The same PCA over G's mapping output w = M(h, 0, p) of the corpus notes (as in the drum paper, "
                  "which works in W), both edited with plain G (no hypernetwork) on the same timbres:", "",
                  "| space | pitch R^2 of the first 4 coords | pitch at +-2 std: median abs cents, share >= 50 "
                  "cents or unvoiced | step CV (lower = more even) | log-mel L1 / std | mean max abs r |",
                  "|---|---|---|---|---|---|"]
        for space in ("h", "w"):
            s = c[space]
            pc = s.get("pitch_cents_at_ends")
            pitch_cell = "n/a" if "pitch_off_semitone_at_ends" not in s or not _pitched(m) else \
                f"{'unvoiced' if pc is None else f'{pc:.0f}'}, {100 * s['pitch_off_semitone_at_ends']:.0f}%"
            lines.append(f"| {space} | {s['pitch_r2']:.3f} | {pitch_cell} | {s['step_cv']:.3f} | "
                         f"{s['mel_l1_per_std']:.4f} | {s['max_abs_r']:.2f} |")
        h, w = c["h"], c["w"]
        better = lambda a, b, low: "h" if (a < b) == low else "w"  # noqa: E731
        lines += ["", f"Measured: the first directions carry less pitch in **{better(h['pitch_r2'], w['pitch_r2'], True)}**"
                  f" (R^2 {h['pitch_r2']:.2f} vs {w['pitch_r2']:.2f}); steps are more even in "
                  f"**{better(h['step_cv'], w['step_cv'], True)}** (CV {h['step_cv']:.3f} vs {w['step_cv']:.3f}); "
                  f"the change is more consistently nameable in **{better(h['max_abs_r'], w['max_abs_r'], False)}** "
                  f"(mean max |r| {h['max_abs_r']:.2f} vs {w['max_abs_r']:.2f})."
                  + ("" if "pitch_off_semitone_at_ends" not in h or not _pitched(m) else
                     f" At +-2 std, {100 * h['pitch_off_semitone_at_ends']:.0f}% of the h renders and "
                     f"{100 * w['pitch_off_semitone_at_ends']:.0f}% of the w renders are 50 cents or more off the "
                     "requested pitch (or unvoiced)."), "",
                  "h is the shipped space. Beyond these numbers it is the only one of the two the hypernetwork can "
                  "follow: H is conditioned on the target h, so an edited h stays a valid refinement target "
                  "(`method=\"hyper\"`), while a w edit bypasses the mapping network and can only be rendered by "
                  "plain G; and an h edit is one setting for every MIDI pitch (G's mapping adds the pitch), "
                  "whereas w already contains the pitch embedding, so a w direction means different things at "
                  "different pitches."]
    return "\n".join(lines) + "\n"
