"""The state of one evaluation run: the model, the classifiers, the held-out corpus and the shared helpers.

The sections (``pairs``, ``audio_table``, ``real``, ``probe``, ``cost``, ``figures``) are functions of an
``Evaluator`` that return what later sections need; ``run.evaluate`` calls them in turn.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..audio import AudioError, prepare_note
from ..corpus import SOUNDFONTS, Corpus, FontRenderer, load_corpus
from ..pipeline import Pipeline
from ..render import Reference, generate, invert
from ..vocoders import Vocoder, check_vocoder, make_vocoder
from . import metrics as M
from .classifiers import EvalClassifiers, load_eval_classifiers
from .config import AUDIO_METHODS, EvalConfig
from .workers import JobPool, job_vocode


class Evaluator:
    """What the sections of one evaluation share: the networks, the classifiers, the corpus and their helpers.

    Build with ``Evaluator.load`` (or directly, in tests); the sections are functions of it (``run.evaluate``).

    model: the pipeline (f, G, E, H, H_pre, LogMel; its vocoder is set to ``cfg.vocoder``, its
        ``optimize_budget`` to ``cfg.optimize_budget``).
    clf: the evaluation classifiers.
    corpus: the held-out corpus. model_dir: where ``f_noadv.safetensors`` may be.
    """

    def __init__(self, model: Pipeline, clf: EvalClassifiers, corpus: Corpus, cfg: EvalConfig,
                 model_dir: str | Path):
        self.model, self.clf, self.corpus, self.cfg = model, clf, corpus, cfg
        self.model_dir = Path(model_dir)
        self.acfg = model.audio_config if cfg.griffin_lim_iters is None else replace(
            model.audio_config, griffin_lim_iters=cfg.griffin_lim_iters)
        self.model.vocoder, self.model.vocoder_name = make_vocoder(check_vocoder(cfg.vocoder), self.acfg), cfg.vocoder
        self.model.optimize_budget = cfg.optimize_budget
        self.sr = self.acfg.sample_rate
        self.pitch = corpus.column("pitch")
        self.inst = corpus.column("instrument_id")
        self.pitched = corpus.column("pitched").astype(bool)
        self.row_of = {(int(i), int(p)): r for r, (i, p) in enumerate(zip(self.inst, self.pitch)) if self.pitched[r]}
        self.timing: dict[str, float] = {}
        self._vocoded: dict[int, np.ndarray] = {}
        self._rendered: dict[int, np.ndarray | None] = {}
        self.audio_methods = AUDIO_METHODS if model.faithful is not None else ()
        self._vocoders: dict[str, Vocoder] = {}
        self.jobs = JobPool(self.acfg, cfg.vocoder, cfg.workers)

    @classmethod
    def load(cls, model_dir, corpus_dir, cfg: EvalConfig) -> "Evaluator":
        """The model, the evaluation classifiers and the corpus read from their folders.

        Raises FileNotFoundError naming what is missing (the classifiers first, with the command that trains them).
        """
        clf = load_eval_classifiers(model_dir)  # first: the clearer error when they are missing
        model = Pipeline.from_pretrained(model_dir)
        return cls(model, clf, load_corpus(corpus_dir), cfg, model_dir)

    # -- helpers ----------------------------------------------------------------------------------
    def rng(self, section: int) -> np.random.Generator:
        """The seeded random stream of one section (the same for every run with the same ``EvalConfig.seed``)."""
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

    def close(self) -> None:
        """Shut down the worker processes, if any."""
        self.jobs.close()

    def vocoder(self, name: str) -> Vocoder:
        """The vocoder called ``name`` (``hyperlib.VOCODERS``; the model's own for ``cfg.vocoder``), built once."""
        if name not in self._vocoders:
            self._vocoders[name] = self.model.vocoder if name == self.cfg.vocoder else make_vocoder(name, self.acfg)
        return self._vocoders[name]

    def vocoded_truth(self, rows) -> dict[int, np.ndarray]:
        """The vocoder's audio of the true log-mel of each corpus row, at its pitch (cached): the references' source."""
        todo = sorted({int(r) for r in rows} - set(self._vocoded))
        audios = self.jobs.map(job_vocode, [(np.asarray(self.corpus.mels[r], dtype=np.float32), int(self.pitch[r]))
                                         for r in todo], "vocode true notes")
        self._vocoded.update(zip(todo, audios))
        return {int(r): self._vocoded[int(r)] for r in rows}

    def rendered_audio(self, rows) -> dict[int, np.ndarray]:
        """The rows whose notes render again from their soundfont, each through the front end (cached, so each note
        is rendered once per run): {row: (num_samples,) float32}. Rows that do not (NSynth, DSP patches, a render
        now silent) are left out."""
        todo = sorted({int(r) for r in rows} - set(self._rendered))
        if any(self.corpus.notes[r].soundfont in SOUNDFONTS for r in todo):
            renderer = FontRenderer(self.acfg)
            for r in todo:
                n = self.corpus.notes[r]
                y = renderer.render(n.soundfont, n.bank, n.program, n.pitch, n.velocity) if (
                    n.soundfont in SOUNDFONTS) else None
                try:
                    self._rendered[r] = None if y is None else prepare_note(y, self.acfg)
                except AudioError:
                    self._rendered[r] = None
            renderer.close()
        return {int(r): self._rendered[int(r)] for r in rows if self._rendered.get(int(r)) is not None}

    def note_audio(self, rows) -> dict[int, np.ndarray]:
        """Each corpus row's own audio: the note rendered again from its soundfont through the front end (cached);
        rows that cannot be rendered again (NSynth, DSP patches) fall back to ``vocoded_truth``. The input of the
        pitch shifters, the classic sampler and the faithful method. Rendered in another order than the corpus, a
        note can differ at its start from the corpus's by the release of the note before it (``FontRenderer``), so
        these rows are close to, not exactly, the corpus's note at its own pitch."""
        rendered = self.rendered_audio(rows)
        missing = [int(r) for r in rows if int(r) not in rendered]
        return {**rendered, **(self.vocoded_truth(missing) if missing else {})}

    @torch.no_grad()
    def generate(self, method: str, x: torch.Tensor, pitch: torch.Tensor, own_pitch: torch.Tensor) -> torch.Tensor:
        """A method's log-mels (B, 1, 128, 128) for inputs x (B, 1, 128, 128) of MIDI pitch ``own_pitch`` (B,) at MIDI
        ``pitch`` (B,) (``render``; the hyper methods' steps checked against x where ``cfg.check_refinement``)."""
        h, z, _ = invert(self.model.nets, method, x)
        reference = Reference(x, own_pitch) if self.cfg.check_refinement else None
        return generate(self.model.nets, method, h, z, pitch, self.cfg.steps, reference=reference)[0]

    def pyin_subset(self, pitches: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        """Sorted indices of at most ``n`` of ``pitches`` that pYIN scores (``metrics.PYIN_SCORED``), by ``rng``."""
        ok = np.flatnonzero([M.pyin_range_ok(p) for p in pitches])
        return np.sort(rng.choice(ok, min(n, ok.size), replace=False)) if ok.size else ok

    # -- inputs ------------------------------------------------------------------------------------
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
