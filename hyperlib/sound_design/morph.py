"""Even morph paths: a self-organizing-map adaptation of the path between timbres.

A straight line h(t) = (1 - t) h_a + t h_b is not perceptually even: the render may barely change over
most of the line and then jump across a "boundary" between instrument regions (Sound Model Factory,
Wyse et al., sec. 3.1). Following that paper, the path is a chain of K nodes (the SOM's weights) in
h-space, pinned at the two inputs and initialised on the straight line; each iteration renders every
node and moves each free node towards its neighbours, pulled by the log-mel distance D between their
renders (mean absolute difference of the normalized log-mels):

    g_i += delta * sum_{j in N(i)} D(S_i, S_j) * (g_j - g_i) / |g_j - g_i|

The pull towards a neighbour is the distance to it, so the fixed point of a chain has equal distances
between neighbouring renders. Every update is a combination of the directions to the neighbours, so the
nodes of a chain never leave the straight line between the inputs: only their spacing t_i changes. To
get far with few renders (each iteration costs K renders), the chain relaxes between renders on a
surrogate of D along the line (the piecewise-linear cumulative distance through the rendered nodes)
and then moves a decaying fraction (the SOM learning rate) of the way to the relaxed spacing.

With four inputs the nodes form a K x K mesh as in the paper: pinned corners, edge nodes moving along
their edge (pulled by their two edge neighbours), inner nodes pulled by their 8-neighbourhood, one
render of the mesh per SOM update. ``rule="paper"`` uses the paper's eq. 1 there instead (the raw
vector g_j - g_i weighted by the squared distance; its fixed point evens out D x |g_j - g_i|, which only
partly equalises D).

The spread of the step sizes is reported as the coefficient of variation (std / mean) of the
neighbour log-mel L1 distances, before (linear) and after (SOM). Those are the distances the SOM evens out, so
their spread after the SOM says only that it converged; ``morph`` also measures the rendered notes with a
measure the SOM never sees, the MFCC distance between neighbouring notes' vocoded audio
(``descriptors.mfcc_distance``), on the linear path and on the adapted one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import torch

from ..audio import check_sound
from ..deprecation import renamed_keywords
from ..render import Code, Result, render_mels, timed
from ..validation import check_code_method, check_pitch, check_steps, finite_number, whole_number
from .descriptors import mel_l1, mfcc_distance, mfcc_frames

if TYPE_CHECKING:
    from ..pipeline import Pipeline

PATHS = ("linear", "som")
RULES = ("equal", "paper")


@dataclass
class MorphPath:
    """A morph path and its step-size statistics.

    codes: (K, C) node codes for a chain or (K, K, C) for a mesh (``flat_code``): C = h_dim, h_dim + z_dim for
    the "encoder" method (h then z), or h, z and G's flattened offsets for "optimize" (which mix like h).
    positions: (K,) fraction t of the way from the first input to the second (chain), or (K, K, 2) bilinear
    coordinates (mesh). distances_before / distances_after: neighbour log-mel L1 distances (mean absolute
    difference of normalized log-mels) of the linear and the adapted path: (K - 1,) for a chain, (2 K (K - 1),)
    horizontal then vertical for a mesh. spread_before / spread_after: their coefficients of variation. history:
    the spread at each SOM iteration. audio_distances_before / audio_distances_after: the same neighbours' MFCC
    distances of the vocoded notes (``descriptors.mfcc_distance``, not what the SOM evens out), set by
    ``morph``; None for a path from ``chain`` or ``mesh`` alone.
    """

    codes: np.ndarray
    positions: np.ndarray
    distances_before: np.ndarray
    distances_after: np.ndarray
    iterations: int = 0
    history: list = field(default_factory=list)
    audio_distances_before: np.ndarray | None = None
    audio_distances_after: np.ndarray | None = None

    @property
    def spread_before(self) -> float:
        return spread(self.distances_before)

    @property
    def spread_after(self) -> float:
        return spread(self.distances_after)

    @property
    def audio_spread_before(self) -> float:
        """Spread of the linear path's MFCC steps (NaN when not measured)."""
        return float("nan") if self.audio_distances_before is None else spread(self.audio_distances_before)

    @property
    def audio_spread_after(self) -> float:
        """Spread of the adapted path's MFCC steps (NaN when not measured)."""
        return float("nan") if self.audio_distances_after is None else spread(self.audio_distances_after)

    def summary(self) -> str:
        b, a = self.distances_before, self.distances_after
        return (f"step-size spread (CV of neighbour log-mel L1): linear {self.spread_before:.3f} -> som "
                f"{self.spread_after:.3f}; max/min step linear {b.max() / max(b.min(), 1e-12):.2f} -> "
                f"som {a.max() / max(a.min(), 1e-12):.2f} ({self.iterations} iterations); not optimized, CV of "
                f"neighbour MFCC distances: linear {self.audio_spread_before:.3f} -> som {self.audio_spread_after:.3f}")


class MorphResults(list):
    """A list of ``Result`` (a chain) or a list of K lists of ``Result`` (a mesh), with ``.path`` (MorphPath)."""

    path: MorphPath


def spread(distances: np.ndarray) -> float:
    """Coefficient of variation std / mean of step sizes (0 = perfectly even; 0 for all-zero steps)."""
    d = np.asarray(distances, dtype=np.float64)
    m = d.mean()
    return float(d.std() / m) if m > 0 else 0.0


def neighbour_pairs(nodes: int, mesh: bool = False) -> np.ndarray:
    """(P, 2) indices of neighbouring nodes: (i, i + 1) along a chain of ``nodes``; for a nodes x nodes mesh
    (row-major indices) the horizontal pairs, then the vertical ones."""
    if not mesh:
        return np.stack([np.arange(nodes - 1), np.arange(1, nodes)], 1)
    idx = np.arange(nodes * nodes).reshape(nodes, nodes)
    return np.concatenate([np.stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()], 1),
                           np.stack([idx[:-1].ravel(), idx[1:].ravel()], 1)])


def audio_distances(results: Sequence[Result], pairs: np.ndarray) -> np.ndarray:
    """(P,) MFCC distances (``descriptors.mfcc_distance``) between the audio of the ``pairs`` of ``results``."""
    mfccs = [mfcc_frames(r.audio, r.sample_rate) for r in results]
    return np.array([mfcc_distance(mfccs[i], mfccs[j]) for i, j in pairs])


def straight_codes(codes: np.ndarray) -> np.ndarray:
    """The linear path with the same ends as ``codes``: evenly spaced on the line between its ends (K, C), or the
    bilinear grid between its corners (K, K, C)."""
    u = np.linspace(0.0, 1.0, codes.shape[0])[:, None]
    if codes.ndim == 2:
        return ((1 - u) * codes[0] + u * codes[-1]).astype(np.float32)
    top = (1 - u) * codes[0, 0] + u * codes[0, -1]
    bottom = (1 - u) * codes[-1, 0] + u * codes[-1, -1]
    return np.stack([(1 - a) * top + a * bottom for a in u[:, 0]]).astype(np.float32)


def flat_code(code: Code) -> np.ndarray:
    """A one-note code -> (C,) float32: h, then z and each offset Delta_l flattened, where the code has them."""
    parts = [code.h] + ([] if code.z is None else [code.z]) + [d.flatten(1) for d in code.deltas or []]
    return torch.cat(parts, dim=1)[0].cpu().numpy()


def split_code(model: "Pipeline", codes: np.ndarray) -> Code:
    """``flat_code``'s (N, C) rows -> a ``Code`` of N codes on the model's device."""
    cfg, t = model.model_config, torch.as_tensor(codes, dtype=torch.float32, device=model.device)
    h, z, rest = t[:, :cfg.h_dim], t[:, cfg.h_dim:cfg.h_dim + cfg.z_dim], t[:, cfg.h_dim + cfg.z_dim:]
    if rest.shape[1] == 0:
        return Code(h, z if z.shape[1] else None)
    shapes = model.nets["G"].tuned_shapes
    return Code(h, z, [d.reshape(len(t), o, i) for d, (o, i) in zip(rest.split([o * i for o, i in shapes], 1), shapes)])


def _renderer(model: "Pipeline", pitch: int, method: str, steps: int) -> Callable[[np.ndarray], np.ndarray]:
    """codes (N, C) -> log-mels (N, n_mels, frames), split by ``split_code``."""

    def render(codes: np.ndarray) -> np.ndarray:
        code = split_code(model, codes)
        return render_mels(model.nets, code.h, pitch, method, steps, z=code.z, device=model.device,
                           deltas=code.deltas)

    return render


def _adapt(render: Callable, nodes: np.ndarray, neighbours: dict[int, list[int]], pairs: np.ndarray,
           iterations: int, lr: float, rule: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """SOM adaptation of ``nodes`` (N, C); only the keys of ``neighbours`` move, pulled by their listed neighbours.

    pairs: (P, 2) node index pairs whose render distances define the spread. Returns (initial distances,
    best nodes, their distances, spread history); the best iterate (lowest spread) is kept, so the result is
    never worse than the start on the measured pairs.
    """
    if rule not in RULES:
        raise ValueError(f"Unknown SOM rule {rule!r}; choose one of {', '.join(RULES)}.")
    nodes = nodes.astype(np.float64).copy()
    first = best = best_nodes = None
    history = []
    for it in range(iterations + 1):
        mels = render(nodes.astype(np.float32))
        d_pairs = mel_l1(mels[pairs[:, 0]], mels[pairs[:, 1]])
        cv = spread(d_pairs)
        history.append(cv)
        if first is None:
            first = d_pairs
        if best is None or cv < spread(best):
            best, best_nodes = d_pairs, nodes.copy()
        if it == iterations or d_pairs.mean() <= 0:
            break
        seg = np.linalg.norm(nodes[pairs[:, 0]] - nodes[pairs[:, 1]], axis=1).mean()
        rate = lr * (1 - it / max(iterations, 1)) + 0.1 * lr  # SOM-style decaying learning rate
        moves = {}
        for i, nbrs in neighbours.items():
            force, gaps = np.zeros(nodes.shape[1]), []
            for j in nbrs:
                vec = nodes[j] - nodes[i]
                gap = float(np.linalg.norm(vec))
                gaps.append(gap)
                if gap <= 1e-12:
                    continue
                dij = float(mel_l1(mels[i], mels[j]))
                if rule == "equal":
                    force += dij / d_pairs.mean() * vec / gap * seg
                else:  # the paper's eq. 1: squared spectrogram distance times the raw difference vector
                    force += (dij / d_pairs.mean()) ** 2 * vec
            step = rate * force / max(len(nbrs) / 2, 1)
            limit = 0.45 * min(gaps) if gaps else 0.0  # never jump past a neighbour
            norm = float(np.linalg.norm(step))
            moves[i] = step * (limit / norm) if norm > limit and norm > 0 else step
        for i, step in moves.items():
            nodes[i] += step
    return first, best_nodes, best, history


def _adapt_chain(render: Callable, start: np.ndarray, end: np.ndarray, nodes: int, iterations: int,
                 lr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list]:
    """SOM adaptation of a chain on the segment start-end, nodes parametrized by t in [0, 1] (ends pinned).

    Each iteration renders the K nodes once and measures the neighbour distances d_i. The SOM then relaxes
    on a surrogate of the distance between two points of the line, the piecewise-linear cumulative
    distance C(t) through the rendered nodes: in each sweep every free node moves to where the pulls of its
    two neighbours balance (equal surrogate distance to both), until the sweeps settle (a plain SOM would
    spread a correction by one neighbour per render). The nodes then move a fraction ``rate`` of the way
    there, the SOM's decaying learning rate (lr at the start, lr / 4 at the end, at most 1), and the
    next iteration renders them again. Returns (initial distances, best t (K,), best codes (K, C), their
    distances, spread history); the best iterate (the linear start included) is kept.
    """
    start64, end64 = start.astype(np.float64), end.astype(np.float64)
    codes_at = lambda t: (1 - t)[:, None] * start64[None] + t[:, None] * end64[None]  # noqa: E731
    t = np.linspace(0.0, 1.0, nodes)
    first = best = best_t = None
    history = []
    for it in range(iterations + 1):
        mels = render(codes_at(t).astype(np.float32))
        d = mel_l1(mels[1:], mels[:-1])
        history.append(spread(d))
        if first is None:
            first = d
        if best is None or spread(d) < spread(best):
            best, best_t = d, t.copy()
        if it == iterations or d.mean() <= 0 or nodes < 3:
            break
        knots = t.copy()
        cum = np.concatenate([[0.0], np.cumsum(np.maximum(d, 1e-9 * d.mean()))])  # strictly increasing
        relaxed = t.copy()
        for _ in range(4 * nodes * nodes):
            c = np.interp(relaxed, knots, cum)
            moved = np.interp((c[:-2] + c[2:]) / 2, cum, knots)
            done = np.max(np.abs(moved - relaxed[1:-1])) < 1e-7
            relaxed[1:-1] = moved
            if done:
                break
        rate = min(1.0, lr * (1 - it / max(iterations, 1)) + 0.25 * lr)
        t = knots + rate * (relaxed - knots)
    return first, best_t, codes_at(best_t), best, history


def chain(model: "Pipeline", start: np.ndarray, end: np.ndarray, nodes: int = 9, pitch: int = 60,
          method: str = "hyper", steps: int = 3, path: str = "som", iterations: int = 8,
          lr: float = 0.8) -> MorphPath:
    """An even (``path="som"``) or straight (``"linear"``) chain of ``nodes`` codes from ``start`` to ``end``.

    Args:
        start, end: (C,) codes of the two timbres (``flat_code``); they are the pinned ends.
        nodes: K >= 2 nodes including the ends.
        pitch, method, steps: how nodes are rendered while adapting (MIDI, method, refinement steps T).
        iterations: SOM iterations (each renders the K nodes once); lr: the initial SOM learning rate (0-1].
    Returns:
        ``MorphPath`` with codes (K, C), positions t (K,); codes[0] == start and codes[-1] == end exactly.
    """
    if path not in PATHS:
        raise ValueError(f"Unknown path {path!r}; choose one of {', '.join(PATHS)}.")
    if nodes < 2:
        raise ValueError(f"A morph needs at least 2 nodes, got {nodes}.")
    start, end = np.asarray(start, np.float32), np.asarray(end, np.float32)
    render = _renderer(model, pitch, method, steps)
    first, positions, best_nodes, best, history = _adapt_chain(render, start, end, nodes,
                                                               iterations if path == "som" else 0, lr)
    codes = best_nodes.astype(np.float32)
    codes[0], codes[-1] = start, end
    return MorphPath(codes, positions, first, best, len(history) - 1, history)


def mesh(model: "Pipeline", corners: Sequence[np.ndarray], nodes: int = 5, pitch: int = 60,
         method: str = "hyper", steps: int = 3, path: str = "som", iterations: int = 10, lr: float = 0.5,
         rule: str = "equal") -> MorphPath:
    """A K x K mesh between four codes (top-left, top-right, bottom-left, bottom-right), paper-style.

    Corners are pinned; edge nodes move along their edge (pulled by their two edge neighbours); inner
    nodes are pulled by their 8-neighbourhood. Returns ``MorphPath`` with codes (K, K, C) and positions
    (K, K, 2) = (row fraction, column fraction) of the initial bilinear grid (not updated).
    """
    if path not in PATHS:
        raise ValueError(f"Unknown path {path!r}; choose one of {', '.join(PATHS)}.")
    if len(corners) != 4 or nodes < 2:
        raise ValueError("A mesh needs four corner codes and at least 2 nodes per side.")
    c = [np.asarray(x, np.float64) for x in corners]
    u = np.linspace(0.0, 1.0, nodes)
    grid = np.array([[(1 - a) * ((1 - b) * c[0] + b * c[1]) + a * ((1 - b) * c[2] + b * c[3]) for b in u] for a in u])
    idx = np.arange(nodes * nodes).reshape(nodes, nodes)
    pairs = neighbour_pairs(nodes, mesh=True)
    neighbours = {}
    last = nodes - 1
    for r in range(nodes):
        for col in range(nodes):
            if (r in (0, last)) and (col in (0, last)):
                continue  # pinned corner
            if r in (0, last):
                neighbours[idx[r, col]] = [idx[r, col - 1], idx[r, col + 1]]
            elif col in (0, last):
                neighbours[idx[r, col]] = [idx[r - 1, col], idx[r + 1, col]]
            else:
                neighbours[idx[r, col]] = [idx[r + dr, col + dc] for dr in (-1, 0, 1) for dc in (-1, 0, 1)
                                           if (dr, dc) != (0, 0)]
    render = _renderer(model, pitch, method, steps)
    first, best_nodes, best, history = _adapt(render, grid.reshape(nodes * nodes, -1), neighbours, pairs,
                                              iterations if path == "som" else 0, lr, rule)
    codes = best_nodes.reshape(nodes, nodes, -1).astype(np.float32)
    for (r, col), x in zip(((0, 0), (0, last), (last, 0), (last, last)), corners):
        codes[r, col] = np.asarray(x, np.float32)
    positions = np.stack(np.meshgrid(u, u, indexing="ij"), axis=-1)
    return MorphPath(codes, positions, first, best, len(history) - 1, history)


@renamed_keywords(refine_steps="steps")
def morph(model: "Pipeline", sounds: Sequence, nodes: int = 9, pitch: int = 60, even: bool = True,
          method: str = "hyper", steps: int = 3, iterations: int = 8, lr: float | None = None,
          rule: str = "equal") -> MorphResults:
    """Render a morph between two sounds (a chain of ``nodes`` notes) or four sounds (a nodes x nodes mesh).

    Args:
        sounds: 2 or 4 audio inputs (paths, (array, sample_rate) pairs or prepared notes); for four, the mesh
            corners are top-left, top-right, bottom-left, bottom-right.
        nodes: K nodes per side, ends included (2-33).
        pitch: MIDI 21-108. even: adapt the path with the SOM (True) or keep it linear (False).
        method, steps: how every node is rendered (as in ``interpolate``).
        iterations, lr: SOM iterations (each renders every node once) and learning rate (default 0.8 for
            a chain, 0.5 for a mesh); rule: the mesh's update ("equal" or "paper").
    Returns:
        ``MorphResults``: K Results (chain) or K lists of K Results (mesh), with ``.path`` (MorphPath:
        the node codes, the step-size spread before and after, and the neighbours' MFCC distances of the linear
        and the rendered path, a check the SOM does not optimize; with ``even`` the linear path's K (or K x K)
        notes are rendered once more for it).
    Raises:
        TypeError (``sounds`` not a list), AudioError or ValueError (a bad sound, count, pitch, method, steps,
        nodes, iterations, lr or rule), all before anything is decoded or rendered.
    """
    check_code_method(method)
    steps, pitch = check_steps(steps), check_pitch(pitch, model.model_config)
    nodes = whole_number(nodes, 2, 33, "Morph nodes")
    iterations = whole_number(iterations, 0, 100, "SOM iterations")
    lr = None if lr is None else finite_number(lr, 0, 10, "SOM learning rate")
    if rule not in RULES:
        raise ValueError(f"Unknown SOM rule {rule!r}; choose one of {', '.join(RULES)}.")
    if not isinstance(sounds, (list, tuple)):
        raise TypeError(f"A morph takes a list of 2 or 4 sounds (paths or (samples, sample_rate) pairs), got "
                        f"{type(sounds).__name__}.")
    if len(sounds) not in (2, 4):
        raise ValueError(f"A morph takes 2 sounds (a path) or 4 sounds (a mesh), got {len(sounds)}.")
    for s in sounds:  # every sound's type and shape before any of them is decoded
        check_sound(s, model.audio_config)
    timings: dict = {}
    codes = []
    for s in sounds:
        codes.append(flat_code(model.encode(s, method, timings).code))
    kind = "som" if even else "linear"
    with timed(timings, "morph_path"):
        if len(codes) == 2:
            p = chain(model, codes[0], codes[1], nodes, pitch, method, steps, kind, iterations, lr or 0.8)
        else:
            p = mesh(model, codes, nodes, pitch, method, steps, kind, iterations, lr or 0.5, rule)
    out = MorphResults(_render_codes(model, c, pitch, method, steps) for c in p.codes) if p.codes.ndim == 2 \
        else MorphResults([_render_codes(model, c, pitch, method, steps) for c in row] for row in p.codes)
    out.path = p
    with timed(timings, "audio_check"):  # the measure the SOM does not see, on the linear and the rendered path
        is_mesh = p.codes.ndim == 3
        pairs = neighbour_pairs(nodes, is_mesh)
        p.audio_distances_after = audio_distances([r for row in out for r in row] if is_mesh else out, pairs)
        straight = straight_codes(p.codes).reshape(-1, p.codes.shape[-1])
        p.audio_distances_before = audio_distances(
            [_render_codes(model, c, pitch, method, steps) for c in straight], pairs) if even \
            else p.audio_distances_after
    return out


def _render_codes(model: "Pipeline", code: np.ndarray, pitch: int, method: str, steps: int) -> Result:
    """One node code (C,) -> Result, through the same renderer as ``interpolate``."""
    h, z, deltas = split_code(model, code[None])
    timings: dict = {}
    r = model.render_code(method, h, z, pitch, steps, timings, deltas=deltas)
    timings["total"] = sum(timings.values())
    return r


def join(results: Sequence[Result], note_s: float = 0.5, fade_s: float = 0.02) -> np.ndarray:
    """Concatenate the first ``note_s`` seconds of each note with short fades: (n,) float32 for listening."""
    if not results:
        return np.zeros(0, np.float32)
    sr = results[0].sample_rate
    n, f = int(note_s * sr), int(fade_s * sr)
    env = np.ones(n, np.float32)
    env[-f:] = np.linspace(1, 0, f, dtype=np.float32)
    return np.concatenate([r.audio[:n] * env[: len(r.audio[:n])] for r in results]).astype(np.float32)
