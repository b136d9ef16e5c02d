"""The evaluation's settings: which rows it scores and how many notes each section uses."""
from __future__ import annotations

from dataclasses import dataclass

from ..config import CHECK_REFINEMENT, MAX_PITCH, MIN_PITCH, REFINE_STEPS
from ..inversion import OptimizeConfig
from ..vocoders import DEFAULT_VOCODER
from .recordings import EXAMPLES_DIR, RECORDINGS_DIR

MODEL_METHODS = ("gan", "encoder", "hyper-pre", "hyper")
"""The methods every section scores on every note from their log-mels; "optimize" is scored on a subset
(``optimize.py``)."""
AUDIO_METHODS = ("faithful",)
"""The methods that render audio from the input's own audio (no vocoder), scored beside them where the input's
audio exists (reconstruction and synthesis)."""
REFERENCES = ("sampler", "phase-vocoder", "rubberband", "oracle")
"""The classic sampler (resampling), the two pitch shifters of the input's own audio with its duration kept
(``hyperlib.pitch_shift``) and the oracle (the vocoded true note)."""
ROW_NAMES = {"gan": "GANStrument", "encoder": "GANStrument Enc.", "hyper-pre": "HyperGANStrument-Pre",
             "hyper": "HyperGANStrument", "optimize": "GAN inversion (optimization)",
             "faithful": "Faithful (pitch shift + correction)",
             "faithful-far": "Faithful, 19 semitones away (Rubber Band's shift)", "sampler": "Classic sampler",
             "phase-vocoder": "Pitch shift (phase vocoder)", "rubberband": "Pitch shift (Rubber Band, formants kept)",
             "oracle": "Oracle"}
SPLIT_CORPORA = {"validation": "data/timgm6mb", "train": "data/full"}


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
        recordings (the first ones of ``real_recording_files``; None: all). examples_dir / recordings_dir: the
        folders of the real recordings (``recordings.real_recording_files``; the example sounds also make the
        interpolation figure), by default ``examples`` and ``recordings`` in the current directory.
    cost_notes / cost_warmup: timed pipeline calls per method after warm-up calls ("optimize": at most
        ``optimize_notes`` of them).
    optimize_notes: reconstruction inputs (a seeded subset) on which "optimize" and, beside it, every other method
        are scored, with the synthesis pairs of those inputs (0 skips the section). optimize_budget: its step budget.
    probe_pitch_step / probe_max_notes / probe_c: probe notes are the pitched validation notes at
        pitches divisible by the step (capped), split by instrument into halves; probe_c: the logistic
        regression's inverse regularization strength (``metrics.linear_probe``).
    steps: hypernetwork refinement steps T (the pipeline's default, REFINE_STEPS). check_refinement: the hyper methods
    keep only the steps that bring G closer to each input at its own pitch (``models.checked_refine``; the pipeline's
    default, CHECK_REFINEMENT); interpolation mixes two inputs and is never checked. batch_size: notes per network call.
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
    examples_dir: str = EXAMPLES_DIR
    recordings_dir: str = RECORDINGS_DIR
    cost_notes: int = 40
    cost_warmup: int = 3
    probe_pitch_step: int = 2
    probe_max_notes: int = 4000
    probe_c: float = 1.0
    steps: int = REFINE_STEPS
    check_refinement: bool = CHECK_REFINEMENT
    batch_size: int = 32
    workers: int = 1
    threads: int | None = None
    griffin_lim_iters: int | None = None
    vocoder: str = DEFAULT_VOCODER
    audio_pairs: int = 96
    optimize_notes: int = 24
    optimize_budget: OptimizeConfig = OptimizeConfig()
    seed: int = 0

    @classmethod
    def tiny(cls, **kw) -> "EvalConfig":
        """A seconds-long run for tests (tiny corpora, tiny models)."""
        base = dict(recon_pitches=tuple(range(MIN_PITCH, MAX_PITCH + 1)), max_notes=8, synth_targets=1, pyin_notes=2,
                    interp_pairs=6, interp_pyin_notes=2, fd_reference_notes=64, real_shifts=(0,), max_recordings=4,
                    cost_notes=2, cost_warmup=1, probe_max_notes=64, steps=1,
                    batch_size=8, griffin_lim_iters=2, audio_pairs=2, optimize_notes=2,
                    optimize_budget=OptimizeConfig(code_steps=2, weight_steps=2))
        base.update(kw)
        return cls(**base)


EVALUATED_WEIGHTS = ("f.safetensors", "G.safetensors", "E.safetensors", "H_pre.safetensors", "H.safetensors",
                     "correction.safetensors", "eval_family.safetensors", "eval_pitch.safetensors",
                     "f_noadv.safetensors")
"""The model folder's weights files an evaluation reads (the methods, the evaluation classifiers, the probe's f
without the pitch adversary); ``results.json`` records their sha256 under "weights", beside the vocoder's."""
