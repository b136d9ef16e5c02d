"""The evaluation command: every method side by side on held-out notes (paper sec. 4, Table 1).

    python -m hyperlib evaluate --split validation --out results/ [--model checkpoints] [--max-notes N]

Rows: GANStrument ("gan"), GANStrument Enc. ("encoder"), HyperGANStrument-Pre ("hyper-pre"),
HyperGANStrument ("hyper"), and two references: the classic sampler (the input note's audio played
faster or slower: resampled by the length ratio 2 ** (-semitones / 12), no time stretching) and the
oracle (the true render at the asked pitch). The corpus stores only log-mels, so the references' audio
is the vocoding of the true log-mel (``EvalConfig.vocoder``, the same vocoder as the methods use): the
sampler resamples the vocoded input note, the oracle is the vocoded true note. For mel-space metrics the
references' log-mels are LogMel of that audio; the methods' log-mels are G's output itself.

Sections (each with its own seeded random stream):
- reconstruction: held-out pitched notes at their own pitch (L1, timbre MSE, pitch accuracy by the
  pitch classifier and by pYIN on the vocoded audio of a subset);
- synthesis: each input note's timbre at other pitches of its instrument's rendered range, scored against
  the true render there (L1, Frechet distance in family-classifier feature space, pitch accuracy; by
  shift size);
- interpolation: random pairs of held-out timbres, random weights, random pitches (paper sec. 4.3);
- audio distances: vocoded notes against the true notes rendered again from the soundfont, at the mel
  and at a fine STFT resolution, for every method and for every vocoder (oracle rows, ms per note);
- real recordings (examples/), cost (parameters, CPU milliseconds per note and per stage), and the
  linear pitch probe on h with and without the pitch adversary.
"""
from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..config import AudioConfig
from ..corpus import Corpus, load_corpus
from ..vocoders import DEFAULT_VOCODER, VOCODERS, Vocoder, check_vocoder, make_vocoder
from ..mel import mel_filterbank
from ..models import FeatureExtractor, refine
from ..pipeline import UNPITCHED_FALLBACK, HyperGANStrument
from . import metrics as M
from .classifiers import EvalClassifiers, load_eval_classifiers, read_eval_config
from .recordings import EXAMPLES_DIR, real_recording_files
from ..config import REFINE_STEPS

MODEL_METHODS = ("gan", "encoder", "hyper-pre", "hyper")
REFERENCES = ("sampler", "oracle")
ROW_NAMES = {"gan": "GANStrument", "encoder": "GANStrument Enc.", "hyper-pre": "HyperGANStrument-Pre",
             "hyper": "HyperGANStrument", "sampler": "Classic sampler", "oracle": "Oracle"}
SPLIT_CORPORA = {"validation": "data/timgm6mb", "train": "data/fluidr3"}


@dataclass
class EvalConfig:
    """Subset sizes and settings of one evaluation run (all recorded in results.json).

    recon_pitches: the input notes are every pitched instrument of the corpus at these MIDI pitches
        (where rendered). max_notes: cap on the number of input notes (a seeded subsample).
    synth_targets: target pitches per input note for synthesis, drawn from its instrument's rendered
        pitches; the shift-size group cycles over 1-3, 4-6, 7-12, >12 semitones so each is represented.
    pyin_notes: pairs per task (reconstruction, synthesis) vocoded and scored by pYIN (a seeded subset
        of those with the asked pitch in ``metrics.PYIN_SCORED``); interp_pyin_notes likewise.
    interp_pairs: interpolation samples (pairs of held-out timbres from different instruments, weight
        alpha ~ U(0, 1), pitch uniform in ``interp_pitches``). fd_reference_notes: validation notes
        (pitched, pitch in ``interp_pitches``) whose features are the interpolation FD's reference.
    real_shifts: semitone offsets from each real recording's estimated pitch. max_recordings: cap on the real
        recordings (the first ones of ``real_recording_files``; None: all).
    cost_notes / cost_warmup: timed pipeline calls per method after warm-up calls.
    probe_pitch_step / probe_max_notes / probe_steps: probe notes are the pitched validation notes at
        pitches divisible by the step (capped), split by instrument into halves; logistic-regression steps.
    steps: hypernetwork refinement steps T (the pipeline's default, REFINE_STEPS). batch_size: notes per network call.
    workers: processes for vocoding and pYIN (1 = in process). threads: torch threads (None: keep).
    griffin_lim_iters: override of Griffin-Lim's iterations (None: the model's own; tests use fewer).
    vocoder: the vocoder of every method's and reference's audio (a name in ``hyperlib.VOCODERS``).
    audio_pairs: reconstruction pairs and as many synthesis pairs whose true notes are rendered again from
        the soundfont for the audio distances (``metrics.audio_distances``), every vocoder's oracle row and
        its milliseconds per note (0 skips the section).
    """

    recon_pitches: tuple = tuple(range(36, 97, 12))
    max_notes: int | None = None
    synth_targets: int = 1
    pyin_notes: int = 96
    interp_pairs: int = 384
    interp_pitches: tuple = (36, 96)
    interp_pyin_notes: int = 48
    fd_reference_notes: int = 3000
    real_shifts: tuple = (-12, -7, -4, 0, 3, 7, 12)
    max_recordings: int | None = None
    cost_notes: int = 40
    cost_warmup: int = 3
    probe_pitch_step: int = 2
    probe_max_notes: int = 4000
    probe_steps: int = 300
    steps: int = REFINE_STEPS
    batch_size: int = 32
    workers: int = 1
    threads: int | None = None
    griffin_lim_iters: int | None = None
    vocoder: str = DEFAULT_VOCODER
    audio_pairs: int = 96
    seed: int = 0

    @classmethod
    def tiny(cls, **kw) -> "EvalConfig":
        """A seconds-long run for tests (tiny corpora, tiny models)."""
        base = dict(recon_pitches=tuple(range(21, 109)), max_notes=8, synth_targets=1, pyin_notes=2,
                    interp_pairs=6, interp_pyin_notes=2, fd_reference_notes=64, real_shifts=(0,), max_recordings=4,
                    cost_notes=2, cost_warmup=1, probe_max_notes=64, probe_steps=20, steps=1,
                    batch_size=8, griffin_lim_iters=2, audio_pairs=2)
        base.update(kw)
        return cls(**base)


# -- worker side: the vocoder and pYIN (in process or in a spawned pool) ----------------------------
_VOCODER: Vocoder | None = None
_ACFG: AudioConfig | None = None


def _init_worker(audio_cfg: dict, vocoder: str, threads: int | None) -> None:
    global _VOCODER, _ACFG
    if threads is not None:
        torch.set_num_threads(threads)
    _ACFG = AudioConfig(**audio_cfg)
    _VOCODER = make_vocoder(vocoder, _ACFG)


def _job_vocode(item: tuple[np.ndarray, int]) -> np.ndarray:
    """(normalized log-mel, MIDI pitch it was rendered at) -> peak-normalized audio."""
    return M.vocode(_VOCODER, item[0], _ACFG, item[1])


def _job_vocode_pyin(item: tuple[np.ndarray, int]) -> float:
    return M.pyin_f0(_job_vocode(item), _ACFG.sample_rate)


def _job_pyin(audio: np.ndarray) -> float:
    return M.pyin_f0(audio, _ACFG.sample_rate)


class Evaluator:
    """Runs the sections of one evaluation. Build with ``Evaluator.load`` (or directly, in tests).

    model: the pipeline (f, G, E, H, H_pre, LogMel, vocoder). clf: the evaluation classifiers.
    corpus: the held-out corpus. model_dir: where ``f_noadv.safetensors`` may be.
    """

    def __init__(self, model: HyperGANStrument, clf: EvalClassifiers, corpus: Corpus, cfg: EvalConfig,
                 model_dir: str | Path):
        self.model, self.clf, self.corpus, self.cfg = model, clf, corpus, cfg
        self.model_dir = Path(model_dir)
        self.acfg = model.audio_config if cfg.griffin_lim_iters is None else replace(
            model.audio_config, griffin_lim_iters=cfg.griffin_lim_iters)
        self.model.vocoder, self.model.vocoder_name = make_vocoder(check_vocoder(cfg.vocoder), self.acfg), cfg.vocoder
        self.sr = self.acfg.sample_rate
        self.pitch = corpus.column("pitch")
        self.inst = corpus.column("instrument_id")
        self.pitched = corpus.column("pitched").astype(bool)
        self.row_of = {(int(i), int(p)): r for r, (i, p) in enumerate(zip(self.inst, self.pitch)) if self.pitched[r]}
        self.timing: dict[str, float] = {}
        self._vocoded: dict[int, np.ndarray] = {}
        self._pool: ProcessPoolExecutor | None = None
        _init_worker(asdict(self.acfg), cfg.vocoder, None)

    @classmethod
    def load(cls, model_dir, corpus_dir, cfg: EvalConfig) -> "Evaluator":
        clf = load_eval_classifiers(model_dir)  # first: the clearer error when they are missing
        model = HyperGANStrument.from_pretrained(model_dir)
        return cls(model, clf, load_corpus(corpus_dir), cfg, model_dir)

    # -- helpers ----------------------------------------------------------------------------------
    def rng(self, section: int) -> np.random.Generator:
        return np.random.default_rng([self.cfg.seed, section])

    def mels(self, rows) -> torch.Tensor:
        """(B, 1, 128, 128) float32 true log-mels of corpus ``rows``."""
        return torch.from_numpy(np.asarray(self.corpus.mels[np.asarray(rows)], dtype=np.float32)).unsqueeze(1)

    @torch.no_grad()
    def logmel(self, audios: list[np.ndarray]) -> torch.Tensor:
        """List of (num_samples,) waveforms -> (B, 1, 128, 128) normalized log-mels."""
        out = [self.model.logmel(torch.from_numpy(np.stack(audios[s : s + 64])))
               for s in range(0, len(audios), 64)]
        return torch.cat(out) if out else torch.zeros(0, 1, self.acfg.n_mels, self.acfg.num_frames)

    def _map(self, fn, items: list, desc: str) -> list:
        """``fn`` over ``items`` with a progress bar, in a spawned process pool when ``workers`` > 1."""
        if not items:
            return []
        if self.cfg.workers <= 1:
            return [fn(it) for it in tqdm(items, desc=desc, unit="note", leave=False)]
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.cfg.workers, mp_context=get_context("spawn"),
                                             initializer=_init_worker, initargs=(asdict(self.acfg), self.cfg.vocoder, 1))
        return list(tqdm(self._pool.map(fn, items, chunksize=2), total=len(items), desc=desc, unit="note",
                         leave=False))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def vocoded_truth(self, rows) -> dict[int, np.ndarray]:
        """The vocoder's audio of the true log-mel of each corpus row, at its pitch (cached): the references' source."""
        todo = sorted({int(r) for r in rows} - set(self._vocoded))
        audios = self._map(_job_vocode, [(np.asarray(self.corpus.mels[r], dtype=np.float32), int(self.pitch[r]))
                                         for r in todo], "vocode true notes")
        self._vocoded.update(zip(todo, audios))
        return {int(r): self._vocoded[int(r)] for r in rows}

    @torch.no_grad()
    def codes(self, method: str, x: torch.Tensor):
        """Inversion: x (B, 1, 128, 128) -> (h (B, h_dim), z (B, z_dim) or None)."""
        nets = self.model.nets
        if method == "encoder":
            return nets["E"](x)
        return nets["f"](x), None

    @torch.no_grad()
    def render(self, method: str, h: torch.Tensor, z, pitch: torch.Tensor):
        """G (refined by H / H_pre for the hyper methods): -> (x_out, x_init), each (B, 1, 128, 128)."""
        nets = self.model.nets
        if method.startswith("hyper"):
            H = nets["H" if method == "hyper" else "H_pre"]
            xs, _ = refine(nets["G"], nets["f"], H, h, pitch, self.cfg.steps)
            return xs[-1], xs[0]
        out = nets["G"](h, z, pitch)
        return out, out

    @torch.no_grad()
    def generate(self, method: str, x: torch.Tensor, pitch: torch.Tensor) -> torch.Tensor:
        h, z = self.codes(method, x)
        return self.render(method, h, z, pitch)[0]

    def _pyin_subset(self, pitches: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        ok = np.flatnonzero([M.pyin_range_ok(p) for p in pitches])
        return np.sort(rng.choice(ok, min(n, ok.size), replace=False)) if ok.size else ok

    # -- pair scoring (reconstruction and synthesis) ------------------------------------------------
    @torch.no_grad()
    def score_pairs(self, src: np.ndarray, pitches: np.ndarray, tgt: np.ndarray, pyin_idx: np.ndarray,
                    desc: str) -> tuple[dict, np.ndarray]:
        """Every method on the pairs (input row ``src[i]`` -> MIDI ``pitches[i]``, true render ``tgt[i]``).

        Returns ({method: {"l1" (N,), "feat" (N, D), "pred" (N,) MIDI, "f0" (len(pyin_idx),) Hz}},
        true-render features (N, D)).
        """
        out: dict[str, dict] = {}
        keep = set(pyin_idx.tolist())
        kept: dict[str, dict[int, np.ndarray]] = {m: {} for m in MODEL_METHODS + REFERENCES}
        bs = self.cfg.batch_size
        acc = {m: {"l1": [], "feat": [], "pred": []} for m in MODEL_METHODS + REFERENCES}
        truth_feat = []
        # references' audio: the vocoded input (sampler) and the vocoded true note (oracle)
        truth_audio = self.vocoded_truth(np.concatenate([src, tgt]))
        for s in tqdm(range(0, len(src), bs), desc=desc, unit="batch"):
            sl = slice(s, s + bs)
            x, truth = self.mels(src[sl]), self.mels(tgt[sl])
            p = torch.from_numpy(pitches[sl]).long()
            truth_feat.append(self.clf.score(truth)[0])
            outs = {m: self.generate(m, x, p) for m in MODEL_METHODS}
            sampler = [M.resample_shift(truth_audio[int(r)], int(pt) - int(self.pitch[r]), self.acfg)
                       for r, pt in zip(src[sl], pitches[sl])]
            outs["sampler"] = self.logmel(sampler)
            outs["oracle"] = self.logmel([truth_audio[int(r)] for r in tgt[sl]])
            for m, y in outs.items():
                acc[m]["l1"].append((y - truth).abs().mean(dim=(1, 2, 3)).numpy())
                for key, values in M.envelope_errors(y, truth, self.acfg).items():
                    acc[m].setdefault(key, []).append(values)
                feat, pred = self.clf.score(y)
                acc[m]["feat"].append(feat)
                acc[m]["pred"].append(pred)
            for j, t in enumerate(tgt[sl]):
                if s + j in keep:  # pYIN subset: the methods' mels (vocoded later), the references' audio
                    for m in MODEL_METHODS:
                        kept[m][s + j] = (outs[m][j, 0].numpy(), int(pitches[s + j]))
                    kept["sampler"][s + j], kept["oracle"][s + j] = sampler[j], truth_audio[int(t)]
        for m in MODEL_METHODS + REFERENCES:
            out[m] = {k: np.concatenate(v) for k, v in acc[m].items()}
        f0 = self.pyin_many(kept, pyin_idx, desc)
        for m in out:
            out[m]["f0"] = f0[m]
        return out, np.concatenate(truth_feat)

    def pyin_many(self, kept: dict[str, dict], idx: np.ndarray, desc: str) -> dict[str, np.ndarray]:
        """pYIN f0 (Hz) of the kept outputs: (mel, MIDI pitch) pairs are vocoded first (model methods), audio
        arrays are used as is."""
        jobs, fns = [], []
        for m, items in kept.items():
            for i in idx:
                jobs.append((m, int(i)))
                fns.append(items[int(i)])
        mel_items = [(k, a) for k, a in zip(jobs, fns) if isinstance(a, tuple)]
        audio_items = [(k, a) for k, a in zip(jobs, fns) if not isinstance(a, tuple)]
        res = dict(zip([k for k, _ in mel_items], self._map(_job_vocode_pyin, [a for _, a in mel_items],
                                                            f"{desc}: vocode + pYIN")))
        res.update(zip([k for k, _ in audio_items], self._map(_job_pyin, [a for _, a in audio_items],
                                                              f"{desc}: pYIN (references)")))
        return {m: np.array([res[(m, int(i))] for i in idx], dtype=np.float64) for m in kept}

    # -- sections ---------------------------------------------------------------------------------
    def select_inputs(self) -> np.ndarray:
        """Held-out input notes: pitched instruments at ``recon_pitches`` (capped by ``max_notes``)."""
        want = set(self.cfg.recon_pitches)
        rows = np.array([r for r in range(len(self.pitch)) if self.pitched[r] and int(self.pitch[r]) in want], int)
        if rows.size == 0:
            raise ValueError(f"No pitched notes at MIDI {sorted(want)} in the corpus.")
        if self.cfg.max_notes is not None and rows.size > self.cfg.max_notes:
            rows = np.sort(self.rng(1).choice(rows, self.cfg.max_notes, replace=False))
        return rows

    def select_targets(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Synthesis pairs: (input rows, target MIDI pitches, target rows), shift groups cycling."""
        rng, groups = self.rng(2), [b[0] for b in M.SHIFT_BUCKETS[1:]]
        by_inst: dict[int, list[tuple[int, int]]] = {}
        for (i, p), r in self.row_of.items():
            by_inst.setdefault(i, []).append((p, r))
        src, pit, tgt = [], [], []
        for k, r in enumerate(inputs):
            p0 = int(self.pitch[r])
            cands = [(p, t) for p, t in by_inst[int(self.inst[r])] if p != p0]
            for j in range(self.cfg.synth_targets):
                if not cands:
                    break
                start = (k * self.cfg.synth_targets + j) % len(groups)
                for g in groups[start:] + groups[:start]:
                    group = [c for c in cands if M.shift_bucket(c[0] - p0) == g]
                    if group:
                        p, t = group[rng.integers(len(group))]
                        cands.remove((p, t))
                        src.append(r), pit.append(p), tgt.append(t)
                        break
        return np.array(src, int), np.array(pit, int), np.array(tgt, int)

    def reconstruction(self, inputs: np.ndarray) -> dict:
        """Held-out notes rebuilt at their own pitch: L1, timbre MSE, pitch accuracy (classifier, pYIN)."""
        pitches = self.pitch[inputs].astype(int)
        pyin_idx = self._pyin_subset(pitches, self.cfg.pyin_notes, self.rng(3))
        res, truth_feat = self.score_pairs(inputs, pitches, inputs, pyin_idx, "reconstruction")
        table = {}
        for m, r in res.items():
            hits = M.pitch_hits(r["f0"], pitches[pyin_idx])
            table[m] = {"l1": float(r["l1"].mean()),
                        "timbre_mse": float(((r["feat"] - truth_feat) ** 2).mean()),
                        "pitch_acc_clf": float((r["pred"] == pitches).mean()),
                        "pitch_acc_pyin": float(hits.mean()) if hits.size else float("nan"),
                        "n": int(len(inputs)), "n_pyin": int(hits.size), **envelope_means(r)}
        self._recon_l1 = {m: (res[m]["l1"], res[m]["pred"] == pitches) for m in res}
        self._recon_pyin = {m: M.pitch_hits(res[m]["f0"], pitches[pyin_idx]) for m in res}
        return table

    def synthesis(self, inputs: np.ndarray) -> tuple[dict, dict]:
        """Each input's timbre at other pitches vs the true render there; also by shift size."""
        src, pitches, tgt = self.select_targets(inputs)
        pyin_idx = self._pyin_subset(pitches, self.cfg.pyin_notes, self.rng(4))
        res, truth_feat = self.score_pairs(src, pitches, tgt, pyin_idx, "synthesis")
        shifts = pitches - self.pitch[src].astype(int)
        buckets = np.array([M.shift_bucket(s) for s in shifts])
        table, by_shift = {}, {}
        for m, r in res.items():
            hit = r["pred"] == pitches
            pyin_hit = M.pitch_hits(r["f0"], pitches[pyin_idx])
            table[m] = {"l1": float(r["l1"].mean()), "fd": M.frechet_distance(r["feat"], truth_feat),
                        "pitch_acc_clf": float(hit.mean()),
                        "pitch_acc_pyin": float(pyin_hit.mean()) if pyin_hit.size else float("nan"),
                        "n": int(len(src)), "n_pyin": int(pyin_hit.size), **envelope_means(r)}
            l1_0, hit_0 = self._recon_l1[m]
            rows = {"0": {"l1": float(l1_0.mean()), "pitch_acc_clf": float(hit_0.mean()), "n": int(l1_0.size),
                          "pitch_acc_pyin": float(self._recon_pyin[m].mean()) if self._recon_pyin[m].size else float("nan"),
                          "n_pyin": int(self._recon_pyin[m].size)}}
            for name, _, _ in M.SHIFT_BUCKETS[1:]:
                sel = buckets == name
                psel = buckets[pyin_idx] == name
                rows[name] = {"l1": float(r["l1"][sel].mean()) if sel.any() else float("nan"),
                              "pitch_acc_clf": float(hit[sel].mean()) if sel.any() else float("nan"),
                              "n": int(sel.sum()),
                              "pitch_acc_pyin": float(pyin_hit[psel].mean()) if psel.any() else float("nan"),
                              "n_pyin": int(psel.sum())}
            by_shift[m] = rows
        return table, by_shift

    @torch.no_grad()
    def interpolation(self, inputs: np.ndarray) -> dict:
        """Paper sec. 4.3: h_mix = alpha h_a + (1 - alpha) h_b at a random pitch; FD vs the validation notes."""
        rng, cfg = self.rng(5), self.cfg
        lo, hi = cfg.interp_pitches
        a = rng.choice(inputs, cfg.interp_pairs)
        b = np.array([rng.choice(inputs[self.inst[inputs] != self.inst[r]]) if (self.inst[inputs] != self.inst[r]).any()
                      else r for r in a], int)
        alpha = rng.uniform(0, 1, cfg.interp_pairs)
        pitches = rng.integers(lo, hi + 1, cfg.interp_pairs)
        pyin_idx = self._pyin_subset(pitches, cfg.interp_pyin_notes, rng)
        keep = set(pyin_idx.tolist())
        ref_rows = np.flatnonzero(self.pitched & (self.pitch >= lo) & (self.pitch <= hi))
        if ref_rows.size > cfg.fd_reference_notes:
            ref_rows = np.sort(rng.choice(ref_rows, cfg.fd_reference_notes, replace=False))
        ref_feat = np.concatenate([self.clf.score(self.mels(ref_rows[s : s + 128]))[0]
                                   for s in range(0, len(ref_rows), 128)])
        acc = {m: {"feat": [], "pred": []} for m in MODEL_METHODS}
        kept: dict[str, dict[int, np.ndarray]] = {m: {} for m in MODEL_METHODS}
        bs = cfg.batch_size
        for s in tqdm(range(0, cfg.interp_pairs, bs), desc="interpolation", unit="batch"):
            sl = slice(s, s + bs)
            xa, xb = self.mels(a[sl]), self.mels(b[sl])
            w = torch.from_numpy(alpha[sl]).float()[:, None]
            p = torch.from_numpy(pitches[sl]).long()
            for m in MODEL_METHODS:
                (ha, za), (hb, zb) = self.codes(m, xa), self.codes(m, xb)
                z = None if za is None else w * za + (1 - w) * zb
                y = self.render(m, w * ha + (1 - w) * hb, z, p)[0]
                feat, pred = self.clf.score(y)
                acc[m]["feat"].append(feat)
                acc[m]["pred"].append(pred)
                for j in range(y.shape[0]):
                    if s + j in keep:
                        kept[m][s + j] = (y[j, 0].numpy(), int(pitches[s + j]))
        f0 = self.pyin_many(kept, pyin_idx, "interpolation")
        table = {}
        for m in MODEL_METHODS:
            feat, pred = np.concatenate(acc[m]["feat"]), np.concatenate(acc[m]["pred"])
            hits = M.pitch_hits(f0[m], pitches[pyin_idx])
            table[m] = {"fd": M.frechet_distance(feat, ref_feat), "pitch_acc_clf": float((pred == pitches).mean()),
                        "pitch_acc_pyin": float(hits.mean()) if hits.size else float("nan"),
                        "n": int(cfg.interp_pairs), "n_pyin": int(hits.size), "n_reference": int(len(ref_rows))}
        return table

    @torch.no_grad()
    def audio_distances(self, inputs: np.ndarray) -> dict:
        """Vocoded notes against the true notes' audio, rendered again from the soundfont (``metrics.audio_distances``).

        Pairs: ``audio_pairs`` reconstruction inputs and as many synthesis pairs (seeded subsets of both
        sections' pairs). Rows "method|vocoder": every method with the evaluation's vocoder; HyperGANStrument
        and the oracle (the true note's own log-mel) with every vocoder of ``VOCODERS``. Each vocoder's
        median milliseconds per note are timed on the oracle's mels, the vocoders in turn on each note.
        """
        from ..audio import prepare_note
        from ..corpus import FontRenderer

        cfg, rng, bs = self.cfg, self.rng(7), self.cfg.batch_size
        if cfg.audio_pairs <= 0:
            return {}
        rec = np.sort(rng.choice(inputs, min(cfg.audio_pairs, len(inputs)), replace=False))
        src, pitches, tgt = self.select_targets(inputs)
        pick = np.sort(rng.choice(len(src), min(cfg.audio_pairs, len(src)), replace=False))
        tasks = {"rec": (rec, self.pitch[rec].astype(int), rec), "syn": (src[pick], pitches[pick], tgt[pick])}
        renderer, truth = FontRenderer(self.acfg), {}
        for r in sorted({int(r) for _, _, t in tasks.values() for r in t}):
            n = self.corpus.notes[r]
            y = renderer.render(n.soundfont, n.bank, n.program, n.pitch, n.velocity)
            if y is not None:
                truth[r] = prepare_note(y, self.acfg)
        renderer.close()
        vocoders = {name: self.model.vocoder if name == cfg.vocoder else make_vocoder(name, self.acfg)
                    for name in VOCODERS}
        basis = mel_filterbank(self.acfg)
        rows: dict[str, dict[str, list]] = {}
        ms: dict[str, list] = {name: [] for name in vocoders}
        sizes = {}
        for task, (s_rows, p_rows, t_rows) in tasks.items():
            keep = np.array([int(t) in truth for t in t_rows], bool)
            s_rows, p_rows, t_rows = s_rows[keep], p_rows[keep], t_rows[keep]
            sizes[task] = int(keep.sum())
            refs = [truth[int(t)] for t in t_rows]
            mels = {"oracle": self.logmel(refs)[:, 0].numpy()}
            for m in MODEL_METHODS:
                mels[m] = torch.cat([self.generate(m, self.mels(s_rows[b:b + bs]), torch.from_numpy(p_rows[b:b + bs]).long())
                                     for b in range(0, len(s_rows), bs)])[:, 0].numpy()
            for m, mel in tqdm(mels.items(), desc=f"audio distances ({task})", unit="method", leave=False):
                names = tuple(VOCODERS) if m in ("oracle", "hyper") else (cfg.vocoder,)
                for i in range(len(t_rows)):
                    for name in names:
                        t0 = time.perf_counter()
                        y = vocoders[name](mel[i], int(p_rows[i]))
                        if m == "oracle":
                            ms[name].append(1000 * (time.perf_counter() - t0))
                        row = rows.setdefault(f"{m}|{name}", {})
                        for k, v in M.audio_distances(y, refs[i], self.acfg, basis).items():
                            row.setdefault(f"{task}_{k}", []).append(v)
        return {"pairs": sizes, "default": cfg.vocoder, "threads": torch.get_num_threads(),
                "rows": {key: {k: float(np.mean(v)) for k, v in row.items()} for key, row in rows.items()},
                "ms_per_note": {name: float(np.median(v)) if v else float("nan") for name, v in ms.items()}}

    @torch.no_grad()
    def real_recordings(self) -> dict:
        """examples/ and recordings/: reconstruction (timbre MSE), other pitches (pitch accuracy; pitched only).

        Each recording's pitch is estimated with pYIN (``HyperGANStrument.estimate_pitch``); the targets
        are that pitch plus ``real_shifts``. The sampler resamples the real audio; the oracle exists only
        at the input's own pitch (the input through the vocoder), so it has a timbre MSE and no pitch score.
        """
        mc = self.model.model_config
        lo, hi = mc.min_pitch, mc.min_pitch + mc.num_pitches - 1
        pyin_methods = MODEL_METHODS + ("sampler",)
        recs = {}
        hits_clf = {m: [] for m in pyin_methods}
        timbre = {m: {} for m in MODEL_METHODS + REFERENCES}
        pyin_items = {m: [] for m in pyin_methods}
        pyin_pitch: list[int] = []
        files = real_recording_files()[: self.cfg.max_recordings]
        for path, pitched in tqdm(files, desc="real recordings", unit="file"):
            name = path.name
            audio = self.model.load(path)
            x = self.model.mel(audio)
            p0 = self.model.estimate_pitch(audio) if pitched else UNPITCHED_FALLBACK
            targets = sorted({int(np.clip(p0 + s, lo, hi)) for s in self.cfg.real_shifts} | {p0})
            recs[name] = {"pitched": pitched, "estimated_pitch": int(p0), "targets": targets}
            x_feat = self.clf.score(x)[0][0]
            outs = {m: self.generate(m, x.expand(len(targets), -1, -1, -1), torch.tensor(targets))
                    for m in MODEL_METHODS}
            sampler_audio = [M.resample_shift(audio, t - p0, self.acfg) for t in targets]
            outs["sampler"] = self.logmel(sampler_audio)
            oracle = self.logmel([M.vocode(self.model.vocoder, x[0, 0].numpy(), self.acfg, p0)])
            timbre["oracle"][name] = float(((self.clf.score(oracle)[0][0] - x_feat) ** 2).mean())
            i0 = targets.index(p0)
            scored = [j for j, t in enumerate(targets) if pitched and M.pyin_range_ok(t)]
            pyin_pitch += [targets[j] for j in scored]
            for m, y in outs.items():
                feat, pred = self.clf.score(y)
                timbre[m][name] = float(((feat[i0] - x_feat) ** 2).mean())
                if pitched:
                    hits_clf[m] += (pred == np.array(targets)).tolist()
                pyin_items[m] += [sampler_audio[j] if m == "sampler" else (y[j, 0].numpy(), targets[j]) for j in scored]
        table = {}
        for m in MODEL_METHODS + REFERENCES:
            if m in pyin_items:
                fn = _job_pyin if m == "sampler" else _job_vocode_pyin
                f0 = np.array(self._map(fn, pyin_items[m], f"real recordings: pYIN ({m})"), dtype=np.float64)
                hits = M.pitch_hits(f0, np.array(pyin_pitch))
            else:
                hits = np.zeros(0, bool)
            clf_hits = hits_clf.get(m, [])
            table[m] = {"pitch_acc_pyin": float(hits.mean()) if hits.size else float("nan"),
                        "n_pyin": int(hits.size),
                        "pitch_acc_clf": float(np.mean(clf_hits)) if clf_hits else float("nan"),
                        "n_clf": len(clf_hits),
                        "timbre_mse_recon": float(np.mean(list(timbre[m].values()))),
                        "timbre_mse_by_file": timbre[m]}
        return {"recordings": recs, "methods": table}

    def cost(self, inputs: np.ndarray) -> dict:
        """Parameters of every network; median CPU milliseconds per note and per stage (``Result.timings_ms``)."""
        from .. import checkpoint as ckpt

        params = {k: int(sum(p.numel() for p in n.parameters())) for k, n in self.model.nets.items()}
        if (self.model_dir / "D.safetensors").is_file():
            params["D"] = int(sum(p.numel() for p in ckpt.build("D", self.model.model_config).parameters()))
        params["eval_family"] = int(sum(p.numel() for p in self.clf.family.parameters()))
        params["eval_pitch"] = int(sum(p.numel() for p in self.clf.pitch.parameters()))
        n = self.cfg.cost_notes + self.cfg.cost_warmup
        rows = inputs[np.arange(n) % len(inputs)]
        truth_audio = self.vocoded_truth(rows)
        hi = self.model.model_config.min_pitch + self.model.model_config.num_pitches - 1
        runs = {m: [] for m in MODEL_METHODS}
        for k, r in enumerate(tqdm(rows, desc="cost", unit="note", leave=False)):
            pitch = int(min(self.pitch[r] + 7, hi))
            for m in MODEL_METHODS:  # the methods in turn on each note, so that drift in the machine's speed hits all alike
                res = self.model.synthesize((truth_audio[int(r)], self.sr), pitch, m, self.cfg.steps)
                if k >= self.cfg.cost_warmup:
                    runs[m].append(res.timings_ms)
        timings = {m: {k: float(np.median([t.get(k, 0.0) for t in ts])) for k in sorted({k for t in ts for k in t})}
                   for m, ts in runs.items()}
        gan, hyp = timings["gan"], timings["hyper"]
        return {"parameters": params, "ms_per_note": timings, "threads": torch.get_num_threads(),
                "notes_timed": self.cfg.cost_notes, "warmup": self.cfg.cost_warmup,
                "hyper_overhead_end_to_end": hyp["total"] / gan["total"] - 1,
                "hyper_overhead_generation": hyp["G+H"] / gan["G"] - 1,
                "hyper_pre_overhead_end_to_end": timings["hyper-pre"]["total"] / gan["total"] - 1}

    @torch.no_grad()
    def probe(self) -> dict:
        """Linear probe predicting pitch from h = f(x): f (with the adversary) and f_noadv (without)."""
        cfg, rng = self.cfg, self.rng(6)
        rows = np.flatnonzero(self.pitched & (self.pitch % cfg.probe_pitch_step == 0))
        if rows.size > cfg.probe_max_notes:
            rows = np.sort(rng.choice(rows, cfg.probe_max_notes, replace=False))
        insts = np.unique(self.inst[rows])
        train_insts = set(rng.permutation(insts)[: max(1, len(insts) // 2)].tolist())
        is_train = np.array([int(i) in train_insts for i in self.inst[rows]])
        if is_train.all() or not is_train.any():
            raise ValueError("The probe needs notes of at least two instruments.")
        nets = {"f": self.model.nets["f"]}
        path = self.model_dir / "f_noadv.safetensors"
        if path.is_file():
            from safetensors.torch import load_file

            f2 = FeatureExtractor(self.model.model_config)
            f2.load_state_dict(load_file(str(path)))
            nets["f_noadv"] = f2.eval()
        meta = read_eval_config(self.model_dir)
        out = {}
        for name, f in nets.items():
            h = torch.cat([f(self.mels(rows[s : s + 128])) for s in range(0, len(rows), 128)])
            out[name] = M.linear_probe(h[is_train], self.pitch[rows][is_train], h[~is_train], self.pitch[rows][~is_train],
                                       steps=cfg.probe_steps, seed=cfg.seed)
        out["f"]["pitch_adversary"] = True
        if "f_noadv" in out:
            out["f_noadv"]["pitch_adversary"] = False
            out["f_noadv"]["training_steps"] = meta.get("f_noadv", {}).get("steps")
        else:
            chance = out["f"]["chance"]
            out["f_noadv"] = {"missing": True, "pitch_adversary": False, "train_accuracy": float("nan"),
                              "test_accuracy": float("nan"), "chance": chance,
                              "note": f"{path} not found: train it with `python -m hyperlib train-eval ... "
                                      "--noadv-steps 600`"}
        out["f"]["training_steps"] = self.model_config_training("features")
        return out

    def model_config_training(self, stage: str):
        from .. import checkpoint as ckpt

        return ckpt.read_config(self.model_dir).get("training", {}).get(stage, {}).get("steps")

    # -- figures' data ------------------------------------------------------------------------------
    @torch.no_grad()
    def figure_data(self, inputs: np.ndarray) -> dict:
        """Fig. 2: one held-out note (a piano if any) at several pitches; Fig. 3: piano -> handsaw at MIDI 69."""
        progs = self.corpus.column("program")
        cands = [r for r in inputs if progs[r] == 0 and self.pitch[r] == 60] or \
                [r for r in inputs if progs[r] == 0] or list(inputs)
        r0 = int(cands[0])
        p0, i0 = int(self.pitch[r0]), int(self.inst[r0])
        pitches = [p for p in (p0 - 12, p0 - 5, p0, p0 + 7, p0 + 12) if (i0, p) in self.row_of] or [p0]
        x = self.mels([r0]).expand(len(pitches), -1, -1, -1)
        p = torch.tensor(pitches)
        h = self.model.nets["f"](x)
        x_fine, x_init = self.render("hyper", h, None, p)
        fig2 = {"input": x[0, 0].numpy(), "input_pitch": p0, "pitches": pitches,
                "preset": self.corpus.notes[r0].preset_name,
                "rows": {"x_init = G(f(x)) (GANStrument)": x_init[:, 0].numpy(),
                         "GANStrument Enc.": self.generate("encoder", x, p)[:, 0].numpy(),
                         "x_fine (HyperGANStrument)": x_fine[:, 0].numpy(),
                         "truth": self.mels([self.row_of[(i0, q)] for q in pitches])[:, 0].numpy()}}
        weights = [0.0, 0.25, 0.5, 0.75, 1.0]
        xs = [self.model.mel(self.model.load(EXAMPLES_DIR / n)) for n in ("piano_c4.aif", "handsaw.ogg")]
        hp, hs = self.model.nets["f"](xs[0]), self.model.nets["f"](xs[1])
        w = torch.tensor(weights)[:, None]
        hm = (1 - w) * hp + w * hs
        fine, init = self.render("hyper", hm, None, torch.full((len(weights),), 69))
        fig3 = {"weights": weights, "pitch": 69, "init": init[:, 0].numpy(), "fine": fine[:, 0].numpy()}
        return {"fig2": fig2, "fig3": fig3}


def envelope_means(scores: dict) -> dict:
    """Means of ``metrics.envelope_errors``'s per-note arrays in one method's pair scores: "spectral_envelope",
    "level_db" (mean absolute errors) and "decay_0.5s", "decay_0.8s" (mean signed dB; positive rings too long)."""
    keys = ["spectral_envelope", "level_db"] + [f"decay_{t}s" for t in M.DECAY_TIMES_S]
    return {k: float(np.mean(scores[k])) for k in keys}


def _clean(obj):
    """NaN/inf -> None and numpy scalars -> Python, for strict JSON."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def evaluate(model_dir, corpus_dir, out_dir, cfg: EvalConfig = EvalConfig(), split: str = "validation") -> dict:
    """Run every section, write ``results.md``, ``results.json`` and the figures to ``out_dir``.

    Args:
        model_dir: model folder with f, G, E, H, H_pre, the evaluation classifiers (``train-eval``) and
            optionally ``f_noadv``. corpus_dir: the held-out corpus (validation: data/timgm6mb).
    Returns:
        The results dict (as in results.json, with NaN where a figure is missing).
    Raises:
        FileNotFoundError: a network, the evaluation classifiers or the corpus is missing.
    """
    from . import report

    t_start = time.time()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    ev = Evaluator.load(model_dir, corpus_dir, cfg)
    results: dict = {"split": split, "model_dir": str(model_dir), "corpus": str(corpus_dir),
                     "config": asdict(cfg), "methods": {m: ROW_NAMES[m] for m in MODEL_METHODS + REFERENCES},
                     "pyin": {"fmin_midi": M.PYIN_FMIN_MIDI, "fmax_midi": M.PYIN_FMAX_MIDI,
                              "scored_midi": list(M.PYIN_SCORED), "sample_rate": ev.sr, "frame_length": 2048,
                              "seconds": M.PYIN_SECONDS, "resolution_semitones": M.PYIN_RESOLUTION,
                              "tolerance_cents": M.CENTS_TOLERANCE},
                     "vocoder": {"name": cfg.vocoder, "griffin_lim_iterations": ev.acfg.griffin_lim_iters},
                     "eval_classifiers": {k: ev.clf.meta[k]["training"].get("heldout_accuracy")
                                          for k in ("family", "pitch")}}
    try:
        def timed(name, fn, *a):
            t0 = time.time()
            out = fn(*a)
            ev.timing[name] = round(time.time() - t0, 1)
            return out

        inputs = ev.select_inputs()
        results["reconstruction"] = timed("reconstruction", ev.reconstruction, inputs)
        results["synthesis"], results["synthesis_by_shift"] = timed("synthesis", ev.synthesis, inputs)
        results["interpolation"] = timed("interpolation", ev.interpolation, inputs)
        results["audio"] = timed("audio", ev.audio_distances, inputs)
        results["real_recordings"] = timed("real_recordings", ev.real_recordings)
        results["probe"] = timed("probe", ev.probe)
        fig = timed("figures", ev.figure_data, inputs)
        results["cost"] = timed("cost", ev.cost, inputs)
    finally:
        ev.close()
    results["sizes"] = {"input_notes": int(len(inputs)), "input_instruments": int(len(np.unique(ev.inst[inputs]))),
                        "reconstruction_pyin": results["reconstruction"]["hyper"]["n_pyin"],
                        "synthesis_pairs": results["synthesis"]["hyper"]["n"],
                        "synthesis_pyin": results["synthesis"]["hyper"]["n_pyin"],
                        "interpolation_samples": results["interpolation"]["hyper"]["n"],
                        "interpolation_pyin": results["interpolation"]["hyper"]["n_pyin"],
                        "probe_notes": results["probe"]["f"]["n_train"] + results["probe"]["f"]["n_test"]}
    results["timing_s"] = {**ev.timing, "total": round(time.time() - t_start, 1)}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    results["figures"] = report.write_figures(fig, out)
    (out / "results.json").write_text(json.dumps(_clean(results), indent=2) + "\n")
    (out / "results.md").write_text(report.markdown(results))
    return results
