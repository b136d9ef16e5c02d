"""The paper's three tasks scored on held-out notes (paper sec. 4, Table 1): reconstruction, synthesis (also by
shift size) and interpolation, for every method and, in the first two, the classic sampler and the oracle."""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from ..pitch_shift import SHIFTERS, pitch_shift
from ..render import generate, invert
from . import metrics as M
from .config import MODEL_METHODS, REFERENCES
from .evaluator import Evaluator
from .workers import job_pyin, job_vocode, job_vocode_pyin


@torch.no_grad()
def score_pairs(ev: Evaluator, src: np.ndarray, pitches: np.ndarray, tgt: np.ndarray, pyin_idx: np.ndarray,
                desc: str) -> tuple[dict, np.ndarray]:
    """Every method and reference on the pairs (input row ``src[i]`` -> MIDI ``pitches[i]``, true render ``tgt[i]``).

    The model methods' log-mels are G's output (vocoded for the audio distance and pYIN); the faithful method, the
    classic sampler and the pitch shifters work on the input note's own audio (``Evaluator.note_audio``) and their
    log-mels are LogMel of their audio; the oracle is the vocoded true note.
    Returns ({row: {"l1" (N,), "fine" (N,), "feat" (N, D), "pred" (N,) MIDI, "f0" (len(pyin_idx),) Hz, "agree"
    (len(pyin_idx),) ``metrics.pitch_agreement`` with the true note's own audio, envelope errors}}, true-render
    features (N, D)). "fine": ``metrics.log_spectral_l1`` at the fine resolution against the true note's own audio.
    """
    rows = MODEL_METHODS + ev.audio_methods + REFERENCES
    keep = set(pyin_idx.tolist())
    kept: dict[str, dict[int, np.ndarray]] = {m: {} for m in rows}
    bs = ev.cfg.batch_size
    acc = {m: {"l1": [], "fine": [], "feat": [], "pred": []} for m in rows}
    truth_feat = []
    truth_audio = ev.vocoded_truth(tgt)  # the oracle
    own = ev.note_audio(np.concatenate([src, tgt]))
    for s in tqdm(range(0, len(src), bs), desc=desc, unit="batch"):
        sl = slice(s, s + bs)
        x, truth = ev.mels(src[sl]), ev.mels(tgt[sl])
        p = torch.from_numpy(pitches[sl]).long()
        truth_feat.append(ev.clf.score(truth)[0])
        own_p = torch.from_numpy(ev.pitch[src[sl]].astype(np.int64))
        outs = {m: ev.generate(m, x, p, own_p) for m in MODEL_METHODS}
        shifts = pitches[sl] - ev.pitch[src[sl]].astype(int)
        inputs = [own[int(r)] for r in src[sl]]
        audio = {m: ev.jobs.map(job_vocode, [(outs[m][j, 0].numpy(), int(pt)) for j, pt in enumerate(pitches[sl])],
                                f"{desc}: vocode") for m in MODEL_METHODS}
        if ev.audio_methods:
            audio["faithful"] = list(ev.model.faithful.batch(np.stack(inputs), ev.pitch[src[sl]], pitches[sl]))
        audio["sampler"] = [M.resample_shift(a, int(k), ev.acfg) for a, k in zip(inputs, shifts)]
        for name in SHIFTERS:
            audio[name] = [pitch_shift(a, int(k), ev.acfg, name) for a, k in zip(inputs, shifts)]
        audio["oracle"] = [truth_audio[int(r)] for r in tgt[sl]]
        for m in rows:
            if m not in outs:
                outs[m] = ev.logmel(audio[m])
        for m, y in outs.items():
            acc[m]["l1"].append((y - truth).abs().mean(dim=(1, 2, 3)).numpy())
            acc[m]["fine"].append(np.array([M.log_spectral_l1(a, own[int(r)], M.FINE_N_FFT, M.FINE_HOP)
                                            for a, r in zip(audio[m], tgt[sl])]))
            for key, values in M.envelope_errors(y, truth, ev.acfg).items():
                acc[m].setdefault(key, []).append(values)
            feat, pred = ev.clf.score(y)
            acc[m]["feat"].append(feat)
            acc[m]["pred"].append(pred)
            for j in range(y.shape[0]):
                if s + j in keep:  # pYIN subset
                    kept[m][s + j] = audio[m][j]
    out = {m: {k: np.concatenate(v) for k, v in acc[m].items()} for m in rows}
    f0 = pyin_many(ev, {**kept, "truth": {int(i): own[int(tgt[i])] for i in pyin_idx}}, pyin_idx, desc)
    for m in out:
        out[m]["f0"] = f0[m]
        out[m]["agree"] = M.pitch_agreement(f0[m], f0["truth"])
    return out, np.concatenate(truth_feat)


def pyin_many(ev: Evaluator, kept: dict[str, dict], idx: np.ndarray, desc: str) -> dict[str, np.ndarray]:
    """pYIN f0 (Hz) of the kept outputs: (mel, MIDI pitch) pairs are vocoded first (model methods), audio
    arrays are used as is."""
    jobs, fns = [], []
    for m, items in kept.items():
        for i in idx:
            jobs.append((m, int(i)))
            fns.append(items[int(i)])
    mel_items = [(k, a) for k, a in zip(jobs, fns) if isinstance(a, tuple)]
    audio_items = [(k, a) for k, a in zip(jobs, fns) if not isinstance(a, tuple)]
    res = dict(zip([k for k, _ in mel_items], ev.jobs.map(job_vocode_pyin, [a for _, a in mel_items],
                                                        f"{desc}: vocode + pYIN")))
    res.update(zip([k for k, _ in audio_items], ev.jobs.map(job_pyin, [a for _, a in audio_items],
                                                          f"{desc}: pYIN (references)")))
    return {m: np.array([res[(m, int(i))] for i in idx], dtype=np.float64) for m in kept}


def reconstruction(ev: Evaluator, inputs: np.ndarray) -> tuple[dict, dict]:
    """Held-out notes rebuilt at their own pitch: L1, timbre MSE, pitch accuracy (classifier, pYIN).

    Returns (the table {method: scores}, per-note scores {method: {"l1" (N,), "fine" (N,), "timbre" (N,) squared
    feature error, "clf_hit" (N,) bool, "pyin_hit" (n_pyin,) bool}}, which ``synthesis`` reports as the shift-size
    group "0").
    """
    pitches = ev.pitch[inputs].astype(int)
    pyin_idx = ev.pyin_subset(pitches, ev.cfg.pyin_notes, ev.rng(3))
    res, truth_feat = score_pairs(ev, inputs, pitches, inputs, pyin_idx, "reconstruction")
    table = {}
    for m, r in res.items():
        hits = M.pitch_hits(r["f0"], pitches[pyin_idx])
        table[m] = {"l1": float(r["l1"].mean()), "fine": float(r["fine"].mean()),
                    "timbre_mse": float(((r["feat"] - truth_feat) ** 2).mean()),
                    "pitch_acc_clf": float((r["pred"] == pitches).mean()),
                    "pitch_acc_pyin": float(hits.mean()) if hits.size else float("nan"),
                    **agreement(r["agree"]), "n": int(len(inputs)), "n_pyin": int(hits.size), **envelope_means(r)}
    notes = {m: {"l1": res[m]["l1"], "fine": res[m]["fine"], "clf_hit": res[m]["pred"] == pitches,
                 "timbre": ((res[m]["feat"] - truth_feat) ** 2).mean(axis=1),
                 "pyin_hit": M.pitch_hits(res[m]["f0"], pitches[pyin_idx]), "agree": res[m]["agree"]} for m in res}
    return table, notes


def synthesis(ev: Evaluator, inputs: np.ndarray, recon_notes: dict) -> tuple[dict, dict]:
    """Each input's timbre at other pitches vs the true render there; also by shift size.

    ``recon_notes``: ``reconstruction``'s per-note scores (the shift-size group "0").
    Returns (the table {method: scores}, {method: {shift group: scores}}).
    """
    src, pitches, tgt = ev.select_targets(inputs)
    pyin_idx = ev.pyin_subset(pitches, ev.cfg.pyin_notes, ev.rng(4))
    res, truth_feat = score_pairs(ev, src, pitches, tgt, pyin_idx, "synthesis")
    shifts = pitches - ev.pitch[src].astype(int)
    buckets = np.array([M.shift_bucket(s) for s in shifts])
    table, by_shift = {}, {}
    for m, r in res.items():
        hit = r["pred"] == pitches
        pyin_hit = M.pitch_hits(r["f0"], pitches[pyin_idx])
        timbre = ((r["feat"] - truth_feat) ** 2).mean(axis=1)
        table[m] = {"l1": float(r["l1"].mean()), "fine": float(r["fine"].mean()), "timbre_mse": float(timbre.mean()),
                    "fd": M.frechet_distance(r["feat"], truth_feat), "pitch_acc_clf": float(hit.mean()),
                    "pitch_acc_pyin": float(pyin_hit.mean()) if pyin_hit.size else float("nan"),
                    **agreement(r["agree"]), "n": int(len(src)), "n_pyin": int(pyin_hit.size), **envelope_means(r)}
        rec = recon_notes[m]
        rows = {"0": bucket_scores(rec["l1"], rec["fine"], rec["timbre"], rec["clf_hit"], rec["pyin_hit"],
                                   rec["agree"])}
        for name, _, _ in M.SHIFT_BUCKETS[1:]:
            sel, psel = buckets == name, buckets[pyin_idx] == name
            rows[name] = bucket_scores(r["l1"][sel], r["fine"][sel], timbre[sel], hit[sel], pyin_hit[psel],
                                       r["agree"][psel])
        by_shift[m] = rows
    return table, by_shift


@torch.no_grad()
def interpolation(ev: Evaluator, inputs: np.ndarray) -> dict:
    """Paper sec. 4.3: h_mix = alpha h_a + (1 - alpha) h_b at a random pitch; FD vs the validation notes."""
    rng, cfg = ev.rng(5), ev.cfg
    lo, hi = cfg.interp_pitches
    a = rng.choice(inputs, cfg.interp_pairs)
    b = np.array([rng.choice(inputs[ev.inst[inputs] != ev.inst[r]]) if (ev.inst[inputs] != ev.inst[r]).any()
                  else r for r in a], int)
    alpha = rng.uniform(0, 1, cfg.interp_pairs)
    pitches = rng.integers(lo, hi + 1, cfg.interp_pairs)
    pyin_idx = ev.pyin_subset(pitches, cfg.interp_pyin_notes, rng)
    keep = set(pyin_idx.tolist())
    ref_rows = np.flatnonzero(ev.pitched & (ev.pitch >= lo) & (ev.pitch <= hi))
    if ref_rows.size > cfg.fd_reference_notes:
        ref_rows = np.sort(rng.choice(ref_rows, cfg.fd_reference_notes, replace=False))
    ref_feat = np.concatenate([ev.clf.score(ev.mels(ref_rows[s : s + 128]))[0]
                               for s in range(0, len(ref_rows), 128)])
    acc = {m: {"feat": [], "pred": []} for m in MODEL_METHODS}
    kept: dict[str, dict[int, np.ndarray]] = {m: {} for m in MODEL_METHODS}
    bs = cfg.batch_size
    for s in tqdm(range(0, cfg.interp_pairs, bs), desc="interpolation", unit="batch"):
        sl = slice(s, s + bs)
        xa, xb = ev.mels(a[sl]), ev.mels(b[sl])
        w = torch.from_numpy(alpha[sl]).float()[:, None]
        p = torch.from_numpy(pitches[sl]).long()
        for m in MODEL_METHODS:
            ca, cb = invert(ev.model.nets, m, xa), invert(ev.model.nets, m, xb)
            z = None if ca.z is None else w * ca.z + (1 - w) * cb.z
            y = generate(ev.model.nets, m, w * ca.h + (1 - w) * cb.h, z, p, cfg.steps)[0]
            feat, pred = ev.clf.score(y)
            acc[m]["feat"].append(feat)
            acc[m]["pred"].append(pred)
            for j in range(y.shape[0]):
                if s + j in keep:
                    kept[m][s + j] = (y[j, 0].numpy(), int(pitches[s + j]))
    f0 = pyin_many(ev, kept, pyin_idx, "interpolation")
    table = {}
    for m in MODEL_METHODS:
        feat, pred = np.concatenate(acc[m]["feat"]), np.concatenate(acc[m]["pred"])
        hits = M.pitch_hits(f0[m], pitches[pyin_idx])
        table[m] = {"fd": M.frechet_distance(feat, ref_feat), "pitch_acc_clf": float((pred == pitches).mean()),
                    "pitch_acc_pyin": float(hits.mean()) if hits.size else float("nan"),
                    "n": int(cfg.interp_pairs), "n_pyin": int(hits.size), "n_reference": int(len(ref_rows))}
    return table


def bucket_scores(l1: np.ndarray, fine: np.ndarray, timbre: np.ndarray, clf_hit: np.ndarray,
                  pyin_hit: np.ndarray, agree: np.ndarray) -> dict:
    """Means of one shift-size group's per-pair scores (NaN where the group is empty) and its sizes."""
    mean = lambda v: float(np.mean(v)) if np.size(v) else float("nan")  # noqa: E731
    return {"l1": mean(l1), "fine": mean(fine), "timbre_mse": mean(timbre), "pitch_acc_clf": mean(clf_hit),
            "pitch_acc_pyin": mean(pyin_hit), **agreement(agree), "n": int(np.size(l1)),
            "n_pyin": int(np.size(pyin_hit))}


def agreement(agree: np.ndarray) -> dict:
    """"pitch_agree_pyin": the share of ``metrics.pitch_agreement``'s scored notes (those whose true note pYIN
    finds voiced) within tolerance of the true note's f0 (NaN where none is), and their number "n_agree"."""
    scored = agree[np.isfinite(agree)]
    return {"pitch_agree_pyin": float(scored.mean()) if scored.size else float("nan"), "n_agree": int(scored.size)}


def envelope_means(scores: dict) -> dict:
    """Means of ``metrics.envelope_errors``'s per-note arrays in one method's pair scores: "spectral_envelope",
    "level_db" (mean absolute errors) and "decay_0.5s", "decay_0.8s" (mean signed dB; positive rings too long)."""
    keys = ["spectral_envelope", "level_db"] + [f"decay_{t}s" for t in M.DECAY_TIMES_S]
    return {k: float(np.mean(scores[k])) for k in keys}
