"""The measured meaning of the timbre faders as Markdown (``docs/faders.md``), from ``faders.json``."""
from __future__ import annotations

import numpy as np

from .fader_study import MIN_R, MIN_REL, UNITS, WORDS, label_for, notable
from .faders import FADERS_FILE, FADERS_JSON


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
    units = UNITS
    lines = ["# Timbre faders", "",
             "Principal directions of the timbre space h = f(x) over the training corpus "
             f"({report['num_codes']} notes of `{report['corpus']}`), shipped as `{model_dir}/{FADERS_FILE}` "
             f"and measured into `{model_dir}/{FADERS_JSON}` by "
             f"`python -m hyperlib faders --corpus {report['corpus']} --model {model_dir}`. "
             "A fader value is in standard deviations of the corpus along that direction; "
             "`model.edit(sound, faders={0: 1.5}, pitch=60)` moves h and lets the hypernetwork refine G "
             "towards the edited h.", "",
             "Explained variance of the first directions: "
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
                     f"*{label_for(f['descriptors'])}*.")
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
