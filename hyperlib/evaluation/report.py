"""Evaluation report: ``results.md`` (tables laid out like the paper's Table 1, then extra tables) and
the PNG figures (a Fig. 2-like mel grid, a Fig. 3-like interpolation strip). matplotlib, Agg backend."""
from __future__ import annotations

import math
from pathlib import Path


from .config import ROW_NAMES
from .metrics import FINE_HOP, FINE_N_FFT, SHIFT_BUCKETS



def _f(v, digits: int = 3, pct: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{100 * v:.1f}%" if pct else f"{v:.{digits}f}"


def _get(d: dict, *keys):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _pitches(p: list) -> str:
    """[36, 48, 60] -> "36-60 step 12"; irregular lists are written out."""
    p = list(p)
    steps = {b - a for a, b in zip(p, p[1:])}
    if len(p) > 2 and len(steps) == 1:
        return f"{p[0]}-{p[-1]} step {steps.pop()}"
    return ", ".join(map(str, p))


TABLE1_HEADER = ("| Method | Rec. L1 ↓ | Rec. timbre MSE ↓ | Rec. pitch acc. clf ↑ | Rec. pitch acc. pYIN ↑ "
                 "| Syn. L1 ↓ | Syn. FD ↓ | Syn. pitch acc. clf ↑ | Syn. pitch acc. pYIN ↑ "
                 "| Int. FD ↓ | Int. pitch acc. clf ↑ | Int. pitch acc. pYIN ↑ |")


def row_names(r: dict) -> dict:
    """Method or reference key -> the label its rows carry: ``results.json``'s own labels, else ``ROW_NAMES``,
    else the key itself (a row added to the results needs no code to be shown)."""
    return {**ROW_NAMES, **r.get("methods", {})}


def rows(r: dict, *sections: str) -> list[str]:
    """The method and reference keys that hold results in any of ``sections`` (top-level keys of ``r``, or a
    path such as ``"real_recordings/methods"``), in the order of ``r["methods"]``, then any others in the order
    the sections list them."""
    found: list[str] = []
    for section in sections:
        d = _get(r, *section.split("/")) or {}
        found += [k for k in d if k not in found]
    order = list(r.get("methods", {}))
    return sorted(found, key=lambda k: (order.index(k) if k in order else len(order), found.index(k)))


def table1(r: dict) -> list[str]:
    """The main table (the paper's Table 1 layout) as markdown lines: a row per method and reference that
    ``r`` scores in reconstruction, synthesis or interpolation; "—" where a row has no figure."""
    names = row_names(r)
    lines = [TABLE1_HEADER, "|---|" + "---:|" * 11]
    for m in rows(r, "reconstruction", "synthesis", "interpolation"):
        rec, syn, itp = _get(r, "reconstruction", m) or {}, _get(r, "synthesis", m) or {}, _get(r, "interpolation", m) or {}
        cells = [_f(rec.get("l1")), _f(rec.get("timbre_mse"), 4), _f(rec.get("pitch_acc_clf"), pct=True),
                 _f(rec.get("pitch_acc_pyin"), pct=True), _f(syn.get("l1")), _f(syn.get("fd"), 2),
                 _f(syn.get("pitch_acc_clf"), pct=True), _f(syn.get("pitch_acc_pyin"), pct=True),
                 _f(itp.get("fd"), 2), _f(itp.get("pitch_acc_clf"), pct=True), _f(itp.get("pitch_acc_pyin"), pct=True)]
        lines.append(f"| {names.get(m, m)} | " + " | ".join(cells) + " |")
    return lines


def table1_caption(r: dict) -> str:
    """One line naming the run behind ``table1``: notes, corpus, refinement steps (and whether each was checked
    against the input), vocoder, seed."""
    sz, cfg = r["sizes"], r["config"]
    checked = ", each kept only where it brings G closer to the input" if cfg.get("check_refinement") else ""
    return (f"{sz['input_notes']} held-out notes of `{r['corpus']}` ({sz['synthesis_pairs']} synthesis pairs, "
            f"{sz['interpolation_samples']} interpolation samples), refinement steps T = {cfg['steps']}{checked}, "
            f"vocoder {_vocoder_label(r)}, seed {cfg['seed']}. ↓ lower is better, ↑ higher is better; pitch accuracy "
            f"by the pitch classifier (clf) or by pYIN on the audio (within {r['pyin']['tolerance_cents']:.0f} cents).")


def replace_block(text: str, name: str, block: str) -> str:
    """``text`` with what lies between the lines ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` replaced by
    ``block``. Raises ValueError where the markers are missing, repeated or out of order."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"expected one {start!r} line before one {end!r} line; add them around the generated part")
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{block}\n{end}{rest.split(end, 1)[1]}"


def markdown(r: dict) -> str:
    """The report as markdown. ``r``: the results dict of ``evaluate`` (NaN or None shown as —)."""
    names, sz, cfg = row_names(r), r["sizes"], r["config"]
    pyin = r["pyin"]
    lines = [f"# Evaluation: {r['split']} split", "",
             f"Model `{r['model_dir']}`, held-out corpus `{r['corpus']}`; {sz['input_notes']} input notes "
             f"({sz['input_instruments']} pitched instruments at MIDI {_pitches(cfg['recon_pitches'])}"
             f"{', capped at ' + str(cfg['max_notes']) if cfg['max_notes'] else ''}), "
             f"{sz['synthesis_pairs']} synthesis pairs, {sz['interpolation_samples']} interpolation samples; "
             f"refinement steps T = {cfg['steps']}; seed {cfg['seed']}; run time {r['timing_s']['total']:.0f} s.", "",
             "## Table 1 (layout of the paper's Table 1)", "",
             "L1: mean absolute error of the normalized log-mel against the true render (lower is better). "
             "Timbre MSE: mean squared difference of the family classifier's penultimate features between output "
             "and input. FD: Frechet distance in that feature space (synthesis: against the true renders at the "
             "asked pitches; interpolation: against the validation notes). Pitch acc.: share of notes whose "
             "pitch is the asked one, by the pitch classifier (clf) or by pYIN on the vocoded audio "
             f"(within {pyin['tolerance_cents']:.0f} cents; MIDI {pyin['scored_midi'][0]}-{pyin['scored_midi'][1]} only).", "",
             *table1(r)]
    lines += ["", f"N: reconstruction {sz['input_notes']} notes (pYIN {sz['reconstruction_pyin']}), synthesis "
              f"{sz['synthesis_pairs']} pairs (pYIN {sz['synthesis_pyin']}), interpolation "
              f"{sz['interpolation_samples']} samples (pYIN {sz['interpolation_pyin']}; FD reference "
              f"{_get(r, 'interpolation', 'hyper', 'n_reference')} validation notes at MIDI "
              f"{cfg['interp_pitches'][0]}-{cfg['interp_pitches'][1]}). The references have no interpolation. "
              "At the input's own pitch the classic sampler and the pitch shifters return the input itself.", ""]

    lines += shift_tables(r, names)
    lines += optimize_table(r, names)
    lines += envelope_table(r, names)
    lines += audio_table(r)

    rr = r.get("real_recordings", {})
    recs, real_rows = rr.get("recordings", {}), rows(r, "real_recordings/methods")
    lines += ["## Real recordings", "",
              f"{len(recs)} recordings (examples/ and recordings/), each at shifts "
              f"{', '.join(map(str, cfg['real_shifts']))} semitones. "
              "Pitch accuracy over the pitched recordings; timbre MSE of the reconstruction (shift 0), its mean "
              "and, since one far recording can dominate the mean, its median.", "",
              "| Method | pitch acc. pYIN | pitch acc. clf | timbre MSE (mean) | timbre MSE (median) "
              "| flatness, unpitched (output / input) | fine flatness, unpitched (output / input) |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for m in real_rows:
        c = _get(rr, "methods", m) or {}
        lines.append(f"| {names.get(m, m)} | {_f(c.get('pitch_acc_pyin'), pct=True)} (N={c.get('n_pyin', 0)}) | "
                     f"{_f(c.get('pitch_acc_clf'), pct=True)} | {_f(c.get('timbre_mse_recon'), 4)} | "
                     f"{_f(c.get('timbre_mse_recon_median'), 4)} | {_f(c.get('flatness_ratio_unpitched'), 2)} | "
                     f"{_f(c.get('flatness_fine_ratio_unpitched'), 2)} |")
    lines += ["", "The oracle (the recording through the vocoder) exists only at the recording's own pitch. Flatness: "
              "the Wiener entropy of the mel spectrum (1 for white noise, near 0 for a few harmonics) of the outputs "
              "at every target pitch over the input's, geometric mean over the unpitched recordings: 1 keeps the "
              "noise, well under 1 turns it into a comb of harmonics. Fine flatness: the same of the audio's "
              f"spectrum at n_fft {FINE_N_FFT}, hop {FINE_HOP}, where harmonics are resolved (the mel bands blur them "
              "into flat bands above a few hundred Hz).", "",
              "Timbre MSE of the reconstruction per recording (pitch: MIDI by pYIN, or unpitched and rendered "
              "around that MIDI pitch):", "",
              "| Recording | pitch | " + " | ".join(names.get(m, m) for m in real_rows) + " |",
              "|---|---|" + "---:|" * len(real_rows)]
    for k, v in recs.items():
        pitch = f"{v['estimated_pitch']}" if v["pitched"] else f"unpitched ({v['estimated_pitch']})"
        lines.append(f"| {k} | {pitch} | "
                     + " | ".join(_f(_get(rr, "methods", m, "timbre_mse_by_file", k), 4) for m in real_rows) + " |")
    lines.append("")
    lines += real_audio_table(rr)

    cost = r.get("cost", {})
    lines += ["## Cost", "", "| Network | Parameters |", "|---|---:|"]
    for k, v in cost.get("parameters", {}).items():
        lines.append(f"| {k} | {v:,} |")
    stages = ["front_end", "pitch_estimate", "pitch_shift", "f", "E", "optimize", "G", "G+H", "correction", "vocoder",
              "total"]
    lines += ["", f"Median CPU milliseconds per note over {cost.get('notes_timed')} notes after {cost.get('warmup')} "
              f"warm-up calls (`HyperGANStrument.synthesize`, one note at a time, {cost.get('threads')} torch threads, "
              f"vocoder {_vocoder_label(r)}):", "",
              "| Method | " + " | ".join(stages) + " |", "|---|" + "---:|" * len(stages)]
    for m in rows(r, "cost/ms_per_note"):
        t = _get(cost, "ms_per_note", m) or {}
        lines.append(f"| {names.get(m, m)} | " + " | ".join(_f(t.get(s), 1) for s in stages) + " |")
    lines += ["", f"{names['optimize']}: over {cost.get('optimize_notes_timed')} notes; it estimates the input's "
              "pitch (pYIN) to fit G there."]
    lines += ["", f"Hypernetwork overhead (HyperGANStrument / GANStrument - 1): end to end "
              f"{_f(cost.get('hyper_overhead_end_to_end'), pct=True)}, generation stage (G+H vs G) "
              f"{_f(cost.get('hyper_overhead_generation'), pct=True)}.", ""]

    pr = r.get("probe", {})
    lines += ["## Disentanglement probe", "",
              "Logistic regression predicting the MIDI pitch from h = f(x), trained on the notes of half of the "
              "validation instruments and tested on the other half (GANStrument reported 17.4% without and 2.6% "
              "with the pitch adversary).", "",
              "| Feature extractor | Pitch adversary | Probe test acc. | Probe train acc. | Chance | Classes | N train / test | f training steps |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for k in ("f", "f_noadv"):
        c = pr.get(k, {})
        label = f"`{k}`" + (" (missing)" if c.get("missing") else "")
        lines.append(f"| {label} | {'on' if c.get('pitch_adversary') else 'off'} | {_f(c.get('test_accuracy'), pct=True)} | "
                     f"{_f(c.get('train_accuracy'), pct=True)} | {_f(c.get('chance'), pct=True)} | {c.get('num_classes', '—')} | "
                     f"{c.get('n_train', '—')} / {c.get('n_test', '—')} | {c.get('training_steps') or '—'} |")
    if _get(pr, "f_noadv", "missing"):
        lines += ["", f"`f_noadv` row missing: {pr['f_noadv']['note']}."]
    ec = r.get("eval_classifiers", {})
    lines += ["", "## Evaluation networks", "",
              f"Family classifier (16 GM families) held-out accuracy {_f(ec.get('family'), pct=True)}; pitch classifier "
              f"(88 classes) held-out accuracy {_f(ec.get('pitch'), pct=True)} (trained on the training font only, "
              "scored on the validation font; see eval_config.json).", "",
              "## Method notes", "",
              "- The classic sampler, the pitch shifters and the faithful method start from the input note's own audio, "
              "rendered again from the soundfont through the front end (the corpus stores log-mels only): the sampler "
              "resamples it by the length ratio 2^(-semitones/12) (played faster or slower, padded or cropped to "
              "1.024 s); the phase vocoder (librosa) and Rubber Band (`rubberband -F`, formants preserved) shift it "
              "with the duration kept; the faithful method corrects the phase vocoder's shift, and beyond 12 semitones "
              "Rubber Band's. The oracle is the true "
              f"render's log-mel through the vocoder ({_vocoder_label(r)}). Their mel metrics use LogMel of their "
              "audio.",
              f"- pYIN: librosa.pyin at {pyin['sample_rate']} Hz, frame_length {pyin['frame_length']}, search range MIDI "
              f"{pyin['fmin_midi']}-{pyin['fmax_midi']}, {pyin['resolution_semitones']}-semitone bins, median f0 of the voiced frames of the first {pyin['seconds']} s; "
              f"only asked pitches in MIDI {pyin['scored_midi'][0]}-{pyin['scored_midi'][1]} are scored (on the oracle, "
              "pYIN is reliable there and fails often outside). An unvoiced result counts as a miss.",
              "- Synthesis targets cycle over the shift groups 1-3, 4-6, 7-12, >12 semitones within each instrument's "
              "rendered range; interpolation pairs two different instruments with alpha ~ U(0, 1) at a uniform "
              "random pitch.",
              f"- Section times (s): {', '.join(f'{k} {v}' for k, v in r['timing_s'].items())}.", ""]
    if r.get("figures"):
        lines += ["## Figures", ""] + [f"![{f}]({f})" for f in r["figures"]] + [""]
    return "\n".join(lines)


def shift_tables(r: dict, names: dict) -> list[str]:
    """Synthesis by shift size: one table per measure, a column per |shift| group (0 is the reconstruction)."""
    buckets = [b[0] for b in SHIFT_BUCKETS]
    by = r.get("synthesis_by_shift", {})
    ns = [_get(by, "hyper", b, "n") for b in buckets]
    lines = ["## Synthesis by shift size", "",
             "Per |shift| in semitones (0 is the reconstruction). Log-mel L1 and timbre MSE as in Table 1; fine: the "
             f"log-magnitude L1 at n_fft {FINE_N_FFT}, hop {FINE_HOP} (harmonics resolved) after matching RMS, floored "
             "80 dB below the peak, of the audio (the model methods' vocoded) against the true note's own audio; "
             "pitch accuracy by pYIN: within 50 cents of the asked MIDI pitch; pitch agreement: within 50 cents of "
             "pYIN's f0 of the true note's own audio, over the notes where it finds one (a preset pYIN hears an octave "
             "off, as the input itself is, counts for a method that plays it so).", ""]
    for title, key, digits, pct in (("Log-mel L1 ↓", "l1", 3, False), ("Fine-resolution distance ↓", "fine", 3, False),
                                    ("Timbre MSE ↓", "timbre_mse", 4, False),
                                    ("Pitch accuracy, pYIN ↑", "pitch_acc_pyin", 1, True),
                                    ("Pitch agreement with the true note, pYIN ↑", "pitch_agree_pyin", 1, True)):
        lines += [f"**{title}**", "", "| Method | " + " | ".join(f"{b} (N={n})" for b, n in zip(buckets, ns)) + " |",
                  "|---|" + "---:|" * len(buckets)]
        for m in rows(r, "synthesis_by_shift"):
            if m in by:
                lines.append(f"| {names.get(m, m)} | " + " | ".join(_f(_get(by, m, b, key), digits, pct) for b in buckets) + " |")
        lines.append("")
    npy = [str(_get(by, "hyper", b, "n_pyin")) for b in buckets]
    return lines + [f"pYIN N per group: {', '.join(f'{b}: {n}' for b, n in zip(buckets, npy))}.", ""]


SHIFT_SUMMARY_ROWS = ("faithful", "phase-vocoder", "rubberband", "sampler", "hyper")
"""The rows of ``shift_summary``: what a user can pick to hear a sound at another pitch."""


def shift_summary(r: dict) -> list[str]:
    """A compact table of pitch changes for the README: log-mel L1 / fine-resolution distance per |shift| group
    (1-3, 4-6, 7-12, >12 semitones) for the faithful method, the pitch shifters, the classic sampler and
    HyperGANStrument (those of ``SHIFT_SUMMARY_ROWS`` the results hold)."""
    names, by = row_names(r), r.get("synthesis_by_shift", {})
    buckets = [b[0] for b in SHIFT_BUCKETS[1:]]
    ns = [_get(by, "hyper", b, "n") for b in buckets]
    lines = ["Log-mel L1 / fine-resolution distance (↓) of the note at another pitch against the true note there, by "
             "the size of the pitch change in semitones (N pairs):", "",
             "| Method | " + " | ".join(f"{b} (N={n})" for b, n in zip(buckets, ns)) + " |", "|---|" + "---:|" * len(buckets)]
    for m in [m for m in SHIFT_SUMMARY_ROWS if m in by]:
        lines.append(f"| {names.get(m, m)} | " + " | ".join(
            f"{_f(_get(by, m, b, 'l1'))} / {_f(_get(by, m, b, 'fine'))}" for b in buckets) + " |")
    return lines


def optimize_table(r: dict, names: dict) -> list[str]:
    """GAN inversion by optimization beside every method on its subset (empty when the run has none)."""
    o = r.get("optimize") or {}
    if not o:
        return []
    b = o["budget"]
    lines = ["## GAN inversion by optimization (subset)", "",
             f"Each of {o['notes']} seeded reconstruction inputs fitted at its own pitch ({b['code_steps']} Adam steps "
             f"on (h, z), then {b['weight_steps']} on G's tuned-layer offsets; median {o['ms_per_note'] / 1000:.1f} s "
             f"per note), scored with every method on the same notes and on their {o['pairs']} synthesis "
             "pairs.", "",
             "| Method | Rec. L1 ↓ | Rec. timbre MSE ↓ | Syn. L1 ↓ | Syn. pitch acc. clf ↑ |",
             "|---|---:|---:|---:|---:|"]
    for m, c in o["methods"].items():
        lines.append(f"| {names.get(m, m)} | {_f(c['rec_l1'])} | {_f(c['rec_timbre_mse'], 4)} | {_f(c['syn_l1'])} | "
                     f"{_f(c['syn_pitch_acc_clf'], pct=True)} |")
    return lines + [""]


def envelope_table(r: dict, names: dict) -> list[str]:
    """Colour and loudness over time (``metrics.envelope_errors``) of reconstruction and synthesis."""
    lines = ["## Colour and loudness over time", "",
             "Per note against the true render, in the log-mel: the time-averaged spectrum's mean absolute error "
             "(colour, normalized log-mel units), the per-frame level's mean absolute error (dB, relative to each "
             "note's loudest frame, floored at -80 dB), and the level's signed error at 0.5 s and 0.8 s (dB; "
             "positive: the note rings too long). Reconstruction / synthesis.", "",
             "| Method | Colour | Level (dB) | Decay 0.5 s (dB) | Decay 0.8 s (dB) |", "|---|---:|---:|---:|---:|"]
    for m in rows(r, "reconstruction", "synthesis"):
        rec, syn = _get(r, "reconstruction", m) or {}, _get(r, "synthesis", m) or {}
        cells = [f"{_f(rec.get(k), d)} / {_f(syn.get(k), d)}"
                 for k, d in (("spectral_envelope", 3), ("level_db", 1), ("decay_0.5s", 1), ("decay_0.8s", 1))]
        lines.append(f"| {names.get(m, m)} | " + " | ".join(cells) + " |")
    return lines + [""]


def _vocoder_label(r: dict) -> str:
    v = r.get("vocoder", {})
    name = v.get("name", "griffin-lim")
    iters = v.get("griffin_lim_iterations", v.get("iterations"))
    return f"{name}, {iters} iterations" if name == "griffin-lim" else name


def real_audio_table(rr: dict) -> list[str]:
    """HyperGANStrument's reconstruction of the real recordings through every vocoder, against the recordings:
    the mean distances and on how many recordings each vocoder is the closest (per recording: results.json)."""
    a = rr.get("audio")
    if not a:
        return []
    vocoders, files = list(a["rows"]), list(a["by_file"][next(iter(a["rows"]))])

    def closest(v: str, k: str) -> int:
        return sum(a["by_file"][v][f][k] <= min(a["by_file"][u][f][k] for u in vocoders) for f in files)

    lines = ["HyperGANStrument's reconstruction (T as above) through each vocoder against the recording itself, by the "
             "audio distances of the next section (per recording in results.json):", "",
             "| Vocoder | mel ↓ | fine ↓ | closest (mel / fine) |", "|---|---:|---:|---:|"]
    lines += [f"| {v} | {a['rows'][v]['mel']:.3f} | {a['rows'][v]['fine']:.3f} | {closest(v, 'mel')} / "
              f"{closest(v, 'fine')} of {len(files)} |" for v in vocoders]
    return lines + [""]


def audio_table(r: dict) -> list[str]:
    """The audio-distance section: every method with the evaluation's vocoder, every vocoder's oracle and
    HyperGANStrument rows, milliseconds per note (empty when the run has no ``audio`` results)."""
    a = r.get("audio") or {}
    if not a.get("rows"):
        return []
    names, default = r["methods"], a["default"]
    lines = ["## Audio distances and vocoders", "",
             "The vocoded audio against the true note's audio, rendered again from the soundfont: mean L1 of the "
             "natural-log magnitude after matching RMS, both floored 80 dB below the reference's peak, at the mel "
             f"resolution (the project's STFT and filterbank) and at a fine resolution (n_fft {FINE_N_FFT}, hop "
             f"{FINE_HOP}: harmonics resolved). N = {a['pairs'].get('rec')} reconstructions and "
             f"{a['pairs'].get('syn')} synthesis pairs (seeded subsets of the sections above). The oracle vocodes the "
             "true note's own log-mel: the vocoder's ceiling. Milliseconds per note: median over the oracle's notes, "
             f"the vocoders in turn on each note, {a.get('threads')} torch threads.", "",
             "| Method | Vocoder | Rec. mel ↓ | Rec. fine ↓ | Syn. mel ↓ | Syn. fine ↓ | ms per note |",
             "|---|---|---:|---:|---:|---:|---:|"]
    keys = [k for k in a["rows"] if k.split("|")[1] == default and k.split("|")[0] != "oracle"]
    keys += [k for k in a["rows"] if k.split("|")[0] in ("hyper", "oracle") and k not in keys]
    for key in keys:
        m, v = key.split("|")
        c = a["rows"][key]
        ms = _f(a["ms_per_note"].get(v), 1) if m == "oracle" else ""
        lines.append(f"| {names.get(m, m)} | {v}{' (default)' if v == default else ''} | {_f(c.get('rec_mel'))} | "
                     f"{_f(c.get('rec_fine'))} | {_f(c.get('syn_mel'))} | {_f(c.get('syn_fine'))} | {ms} |")
    return lines + [""]


def write_figures(fig: dict, out: Path) -> list[str]:
    """Write ``fig2_grid.png`` and ``fig3_interpolation.png`` into ``out``; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kw = dict(origin="lower", aspect="auto", vmin=-1, vmax=1, cmap="magma", interpolation="nearest")
    f2 = fig["fig2"]
    rows, pitches = list(f2["rows"]), f2["pitches"]
    ncol = len(pitches) + 1
    figure, axes = plt.subplots(len(rows), ncol, figsize=(2.1 * ncol, 1.9 * len(rows)), squeeze=False)
    for i, name in enumerate(rows):
        for j in range(ncol):
            ax = axes[i][j]
            ax.set_xticks([]), ax.set_yticks([])
            if j == 0:
                if i == 0:
                    ax.imshow(f2["input"], **kw)
                    ax.set_title(f"input (MIDI {f2['input_pitch']})", fontsize=8)
                else:
                    ax.axis("off")
                continue
            ax.imshow(f2["rows"][name][j - 1], **kw)
            if i == 0:
                ax.set_title(f"MIDI {pitches[j - 1]}", fontsize=8)
            if j == 1:
                ax.set_ylabel(name, fontsize=7)
    figure.suptitle(f"Held-out note ({f2['preset']}) at several pitches", fontsize=9)
    figure.tight_layout()
    figure.savefig(out / "fig2_grid.png", dpi=90)
    plt.close(figure)

    f3 = fig["fig3"]
    w = f3["weights"]
    figure, axes = plt.subplots(2, len(w), figsize=(2.1 * len(w), 4.0), squeeze=False)
    for i, (key, label) in enumerate((("init", "without refinement\n(x_init, GANStrument)"),
                                       ("fine", "with refinement\n(x_fine, HyperGANStrument)"))):
        for j, a in enumerate(w):
            ax = axes[i][j]
            ax.imshow(f3[key][j], **kw)
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(f"handsaw weight {a:.2f}", fontsize=8)
            if j == 0:
                ax.set_ylabel(label, fontsize=7)
    figure.suptitle(f"Interpolation piano (examples/piano_c4.aif) -> handsaw at MIDI {f3['pitch']}", fontsize=9)
    figure.tight_layout()
    figure.savefig(out / "fig3_interpolation.png", dpi=90)
    plt.close(figure)
    return ["fig2_grid.png", "fig3_interpolation.png"]
