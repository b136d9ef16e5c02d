"""Real recordings (``examples/``, ``recordings/``): reconstruction timbre error, the pitch of other notes, and the
audio distance of HyperGANStrument's reconstruction to the recording through every vocoder."""
from __future__ import annotations

import numpy as np
import torch
from tqdm import tqdm

from ..mel import mel_filterbank
from ..pitch_shift import SHIFTERS, pitch_shift
from ..pipeline import UNPITCHED_FALLBACK
from ..render import vocode
from ..vocoders import VOCODERS
from . import metrics as M
from .config import MODEL_METHODS, REFERENCES
from .evaluator import Evaluator
from .recordings import real_recording_files
from .workers import job_pyin, job_vocode, job_vocode_pyin


@torch.no_grad()
def real_recordings(ev: Evaluator) -> dict:
    """examples/ and recordings/: reconstruction (timbre MSE), other pitches (pitch accuracy; pitched only).

    Each recording's pitch is estimated with pYIN (``HyperGANStrument.estimate_pitch``); the targets
    are that pitch plus ``real_shifts``. The sampler resamples the real audio, the pitch shifters and the faithful
    method shift it (their timbre MSE at shift 0 is that of the input itself); the oracle exists only
    at the input's own pitch (the input through the vocoder), so it has a timbre MSE and no pitch score.
    "flatness_ratio_unpitched": on the unpitched recordings, the geometric mean over recordings of the outputs'
    ``metrics.spectral_flatness`` (mean over the target pitches) over the input's (1: as noisy as the input; well
    under 1: a comb of harmonics; the oracle: the reconstruction only). "flatness_fine_ratio_unpitched": the same
    of ``metrics.audio_flatness`` of the audio (the model methods' vocoded), where the mel's blur of harmonics
    into flat bands above a few hundred Hz does not hide a comb.
    "audio": HyperGANStrument's reconstruction vocoded by each of ``VOCODERS`` against the recording
    (``metrics.audio_distances``, mel and fine resolution), mean over recordings and per recording.
    """
    mc = ev.model.model_config
    lo, hi = mc.min_pitch, mc.min_pitch + mc.num_pitches - 1
    audio_rows = ev.audio_methods + ("sampler",) + SHIFTERS
    pyin_methods = MODEL_METHODS + audio_rows
    recs = {}
    hits_clf = {m: [] for m in pyin_methods}
    timbre = {m: {} for m in MODEL_METHODS + ev.audio_methods + REFERENCES}
    flatness = {m: {} for m in MODEL_METHODS + ev.audio_methods + REFERENCES}  # unpitched: output / input
    flatness_fine = {m: {} for m in MODEL_METHODS + ev.audio_methods + REFERENCES}
    pyin_items = {m: [] for m in pyin_methods}
    pyin_pitch: list[int] = []
    audio_dist: dict[str, dict[str, dict]] = {name: {} for name in VOCODERS}
    basis = mel_filterbank(ev.acfg)
    files = real_recording_files(ev.cfg.examples_dir, ev.cfg.recordings_dir)[: ev.cfg.max_recordings]
    for path, pitched in tqdm(files, desc="real recordings", unit="file"):
        name = path.name
        audio = ev.model.prepare(path)
        x = ev.model.mel(audio)
        p0 = ev.model.estimate_pitch(audio) if pitched else UNPITCHED_FALLBACK
        targets = sorted({int(np.clip(p0 + s, lo, hi)) for s in ev.cfg.real_shifts} | {p0})
        recs[name] = {"pitched": pitched, "estimated_pitch": int(p0), "targets": targets}
        x_feat = ev.clf.score(x)[0][0]
        outs = {m: ev.generate(m, x.expand(len(targets), -1, -1, -1), torch.tensor(targets),
                               torch.full((len(targets),), p0)) for m in MODEL_METHODS}
        audios = {"sampler": [M.resample_shift(audio, t - p0, ev.acfg) for t in targets],
                  **{name: [pitch_shift(audio, t - p0, ev.acfg, name) for t in targets] for name in SHIFTERS}}
        if ev.audio_methods:
            audios["faithful"] = list(ev.model.faithful(audio, p0, targets))
        outs.update({m: ev.logmel(a) for m, a in audios.items()})
        oracle_audio = vocode(ev.model.vocoder, x[0, 0].numpy(), p0, ev.acfg.peak_dbfs)
        oracle = ev.logmel([oracle_audio])
        timbre["oracle"][name] = float(((ev.clf.score(oracle)[0][0] - x_feat) ** 2).mean())
        if not pitched:
            flatness["oracle"][name] = float(M.spectral_flatness(oracle, ev.acfg)[0] / M.spectral_flatness(x, ev.acfg)[0])
            input_flatness = M.audio_flatness(audio)
            vocoded = {m: ev.jobs.map(job_vocode, [(outs[m][j, 0].numpy(), t) for j, t in enumerate(targets)],
                                      f"real recordings: vocode ({m})") for m in MODEL_METHODS}
            vocoded["oracle"] = [oracle_audio]
            for m, ys in {**vocoded, **audios}.items():
                flatness_fine[m][name] = float(np.mean([M.audio_flatness(a) for a in ys]) / input_flatness)
        i0 = targets.index(p0)
        for vocoder, by_file in audio_dist.items():
            y = vocode(ev.vocoder(vocoder), outs["hyper"][i0, 0].numpy(), p0, ev.acfg.peak_dbfs)
            by_file[name] = M.audio_distances(y, audio, ev.acfg, basis)
        scored = [j for j, t in enumerate(targets) if pitched and M.pyin_range_ok(t)]
        pyin_pitch += [targets[j] for j in scored]
        for m, y in outs.items():
            feat, pred = ev.clf.score(y)
            timbre[m][name] = float(((feat[i0] - x_feat) ** 2).mean())
            if not pitched:  # every target pitch: is the noise still noise there?
                flatness[m][name] = float(np.mean(M.spectral_flatness(y, ev.acfg))
                                          / M.spectral_flatness(x, ev.acfg)[0])
            if pitched:
                hits_clf[m] += (pred == np.array(targets)).tolist()
            pyin_items[m] += [audios[m][j] if m in audios else (y[j, 0].numpy(), targets[j]) for j in scored]
    table = {}
    for m in MODEL_METHODS + ev.audio_methods + REFERENCES:
        if m in pyin_items:
            fn = job_pyin if m in audio_rows else job_vocode_pyin
            f0 = np.array(ev.jobs.map(fn, pyin_items[m], f"real recordings: pYIN ({m})"), dtype=np.float64)
            hits = M.pitch_hits(f0, np.array(pyin_pitch))
        else:
            hits = np.zeros(0, bool)
        clf_hits = hits_clf.get(m, [])
        table[m] = {"pitch_acc_pyin": float(hits.mean()) if hits.size else float("nan"),
                    "n_pyin": int(hits.size),
                    "pitch_acc_clf": float(np.mean(clf_hits)) if clf_hits else float("nan"),
                    "n_clf": len(clf_hits),
                    "timbre_mse_recon": float(np.mean(list(timbre[m].values()))),
                    "timbre_mse_recon_median": float(np.median(list(timbre[m].values()))),
                    "timbre_mse_by_file": timbre[m],
                    "flatness_ratio_unpitched": geometric_mean(flatness[m]),
                    "flatness_ratio_by_file": flatness[m],
                    "flatness_fine_ratio_unpitched": geometric_mean(flatness_fine[m]),
                    "flatness_fine_ratio_by_file": flatness_fine[m]}
    audio_rows = {v: {k: float(np.mean([d[k] for d in by_file.values()])) for k in ("mel", "fine")}
                  for v, by_file in audio_dist.items()}
    return {"recordings": recs, "methods": table,
            "audio": {"method": "hyper", "rows": audio_rows, "by_file": audio_dist}}


def geometric_mean(by_file: dict[str, float]) -> float:
    """The geometric mean of a {recording: ratio} dict's values; NaN for an empty one."""
    return float(np.exp(np.mean(np.log(list(by_file.values()))))) if by_file else float("nan")
