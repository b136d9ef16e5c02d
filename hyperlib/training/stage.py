"""The machinery every training stage shares: data, devices, optimizers, resumable state, logging, summary.

A stage (``hyperlib.training.stages``) builds its networks with ``Stage.trainable`` and ``Stage.frozen``, then
hands one step function to ``Stage.run``, which resumes from ``<model_dir>/_train/<stage>.pt``, logs losses to
``<model_dir>/_train/<stage>.jsonl``, checkpoints every ``ckpt_every`` steps and writes the safetensors and the
stage summary (``config.json["training"][stage]``) at the end.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from .. import checkpoint as ckpt
from ..config import ModelConfig, TrainConfig
from ..corpus import load_corpus
from . import history
from .data import NoteBank
from .distributed import Processes


def load_matching(module: torch.nn.Module, weights: dict[str, torch.Tensor]) -> list[str]:
    """Load the tensors of ``weights`` whose name and shape ``module`` shares; return the names ``module`` has and
    ``weights`` did not give (they keep their initialization: new parameters, or a head whose shape changed)."""
    own = module.state_dict()
    missing, _ = module.load_state_dict({k: v for k, v in weights.items() if k in own and own[k].shape == v.shape},
                                        strict=False)
    return missing


class Stage:
    """Shared machinery of a stage: data, devices, optimizers, resumable state, logging.

    ``procs``: this process among the run's (``Processes``); only the main process writes files."""

    def __init__(self, name: str, corpus_dir, model_dir, tc: TrainConfig, device: str | torch.device, fresh: bool,
                 model_config: ModelConfig | None = None, procs: Processes = Processes()):
        procs.check_batch(tc.batch_size)
        self.name, self.tc, self.device, self.procs = name, tc, torch.device(device), procs
        self.model_dir = Path(model_dir)
        self.train_dir = self.model_dir / "_train"
        self.train_dir.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(tc.seed)
        corpus = load_corpus(corpus_dir)
        self.manifest = Path(corpus_dir) / "manifest.csv"
        self.bank = NoteBank(corpus, tc.seed)
        self.audio = corpus.audio_config
        cfg = ckpt.read_config(self.model_dir)
        if "model" not in cfg:
            model_config = replace(model_config or ModelConfig(), num_instruments=self.bank.num_instruments)
            cfg = {"model": model_config.to_dict(),
                   "audio": asdict(corpus.audio_config)}
            self._write_config(cfg)
        elif name == "features" and cfg["model"]["num_instruments"] != self.bank.num_instruments:
            cfg["model"]["num_instruments"] = self.bank.num_instruments  # a new corpus: f gets a new instrument head
            self._write_config(cfg)
        self.cfg = ModelConfig.from_dict(cfg["model"])
        self.state_path = self.train_dir / f"{name}.pt"
        self.log_path = self.train_dir / f"{name}.jsonl"
        if fresh and procs.main:
            self.state_path.unlink(missing_ok=True)
            self.log_path.unlink(missing_ok=True)
        procs.barrier()  # the other processes read config.json and the state after the main one wrote them
        self.modules: dict[str, torch.nn.Module] = {}
        self.optims: dict[str, torch.optim.Optimizer] = {}

    def _write_config(self, cfg: dict) -> None:
        if self.procs.main:
            ckpt.write_config(self.model_dir, cfg)

    def frozen(self, name: str) -> torch.nn.Module:
        """A network of an earlier stage, in eval mode with gradients off."""
        return self._layout(ckpt.load_network(self.model_dir, name, self.cfg, self.device).requires_grad_(False))

    def _layout(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` in the channels-last memory layout where ``tc.channels_last`` (convolutions follow their
        weights' layout; the arithmetic is the same)."""
        return module.to(memory_format=torch.channels_last) if self.tc.channels_last else module

    def trainable(self, name: str, init: torch.nn.Module | None = None, warm_file: str | None = None,
                  lr: float | None = None) -> torch.nn.Module:
        """A network to train: ``init``, else a new one, which with ``tc.warm_start`` takes the weights of
        ``<model_dir>/<warm_file or name>.safetensors`` where that exists (parameters the file lacks keep
        their initialization, and so do those whose shape changed, such as f's instrument head on a new
        corpus). ``lr``: its Adam learning rate (default ``tc.lr``); G's parameters are grouped by
        ``generator_param_groups``."""
        module = init or ckpt.build(name, self.cfg, self.audio)
        warm = self.model_dir / f"{warm_file or name}.safetensors"
        if init is None and self.tc.warm_start and warm.is_file():
            missing = load_matching(module, ckpt.read_weights(self.model_dir, warm_file or name))
            if self.procs.main:
                tqdm.write(f"{self.name}: {name} warm-started from {warm.name}; new parameters: {missing or 'none'}")
        module = self._layout(module.to(self.device).train().requires_grad_(True))
        self.modules[name] = module
        lr = lr or self.tc.lr
        params = generator_param_groups(module, lr, self.tc) if name == "G" else module.parameters()
        self.optims[name] = torch.optim.Adam(params, lr=lr, betas=tuple(self.tc.betas))
        for group in self.optims[name].param_groups:
            group["base_lr"] = group["lr"]  # the schedule scales this (restored with the optimizer on resume)
        return module

    def features_and_knn(self, f: torch.nn.Module) -> torch.Tensor:
        """h = f(x) of every corpus row (N, h_dim) on the device, and the bank's KNN table built from it.

        h is cached in ``_train/`` under the hash of ``f.safetensors`` and the corpus's manifest, as
        computing it for a large corpus takes minutes on a CPU and three stages need the same h."""
        key = ckpt.file_sha256(self.model_dir / "f.safetensors")[:16] + ckpt.file_sha256(self.manifest)[:16]
        cache = self.train_dir / f"h_{key}.pt"
        if cache.is_file():
            h = torch.load(cache, weights_only=True)
        elif self.procs.main:
            h = self.bank.features(f, self.device)
            ckpt.replace_atomically(cache, lambda tmp: torch.save(h, tmp))
        self.procs.barrier()  # the main process computes and caches h, the others read it
        if not self.procs.main:
            h = torch.load(cache, weights_only=True)
        self.bank.build_knn(h, self.tc.knn_k)
        return h.to(self.device)

    def run(self, step_fn: Callable[[int], dict], save_names: dict[str, str]) -> dict:
        """Run ``step_fn`` from the saved step to ``tc.steps``, or until this run has spent ``tc.max_minutes`` of
        wall time (then the state of the step reached is saved, and the command without ``--fresh`` goes on from
        there); save ``save_names`` (module -> file) at the end."""
        start, elapsed = 0, 0.0
        # totals of the runs this one continues (a warm start), kept in the state so that a resumed run keeps them
        recorded = ckpt.read_config(self.model_dir).get("training", {}).get(self.name, {}) if self.tc.warm_start else {}
        self.before = {"samples_total": recorded.get("samples_total", recorded.get("steps", 0) * recorded.get("batch_size", 0)),
                       "wall_time_total_s": recorded.get("wall_time_total_s", recorded.get("wall_time_s", 0.0)),
                       "curve": recorded.get("curve"),
                       "log_offset": self.log_path.stat().st_size if self.log_path.is_file() else 0}
        if self.state_path.is_file():
            state = torch.load(self.state_path, map_location=self.device, weights_only=True)
            for k, m in self.modules.items():
                m.load_state_dict(state["modules"][k])
            for k, o in self.optims.items():
                o.load_state_dict(state["optims"][k])
            start, elapsed = state["step"], state["elapsed"]
            self.before = json.loads(state.get("before", json.dumps(self.before)))
            self.bank.rng.bit_generator.state = json.loads(state["rng"])
            torch.manual_seed(self.tc.seed + start)
        run_start = time.time()
        t0 = run_start - elapsed
        main = self.procs.main
        bar = tqdm(range(start, self.tc.steps), desc=self.name, initial=start, total=self.tc.steps, unit="step",
                   disable=not main)
        reached = start
        with open(self.log_path, "a") if main else contextlib.nullcontext() as log:
            for step in bar:
                for optim in self.optims.values():
                    for group in optim.param_groups:
                        group["lr"] = group["base_lr"] * self.tc.lr_factor(step)
                losses = step_fn(step)
                if (step + 1) % self.tc.log_every == 0:
                    losses = self.procs.mean(losses)
                    if main:
                        log.write(json.dumps({"step": step + 1, "time_s": round(time.time() - t0, 2), **losses}) + "\n")
                        log.flush()
                        bar.set_postfix({k: f"{v:.3g}" for k, v in losses.items()})
                reached = step + 1
                out_of_time = self._out_of_time(run_start)
                if main and (reached % self.tc.ckpt_every == 0 or reached == self.tc.steps or out_of_time):
                    self._save_state(reached, time.time() - t0)
                if out_of_time:
                    tqdm.write(f"{self.name}: stopped at step {reached} after {self.tc.max_minutes:g} minutes "
                               f"(--max-minutes); run it again without --fresh to go on")
                    break
        summary = self._finish(save_names, t0, reached) if main else {}
        self.procs.barrier()  # every process returns once the files are written
        return summary

    def _out_of_time(self, run_start: float) -> bool:
        """Whether this run has used its ``tc.max_minutes`` (0: no limit); every process takes the main one's
        answer, so that all stop at the same step."""
        if self.tc.max_minutes <= 0:
            return False
        over = float(time.time() - run_start > 60 * self.tc.max_minutes) if self.procs.main else 0.0
        return self.procs.mean({"over": over})["over"] > 0

    def _finish(self, save_names: dict[str, str], t0: float, steps: int) -> dict:
        """Write the networks, their hashes and the stage summary after ``steps`` steps; return the summary."""
        final = self._final_losses()
        for module_name, file_name in save_names.items():
            ckpt.save_network(self.model_dir, file_name, self.modules[module_name])  # and its sha256 in hashes.json
        cfg = ckpt.read_config(self.model_dir)
        wall, samples = time.time() - t0, steps * self.tc.batch_size
        summary = {"steps": steps, "batch_size": self.tc.batch_size, "lr": self.tc.lr,
                   "wall_time_s": round(wall, 1), "device": str(self.device), "torch_threads": torch.get_num_threads(),
                   "processes": self.procs.world_size,
                   "notes": len(self.bank), "warm_start": self.tc.warm_start, "final_losses": final,
                   "samples": samples,
                   "samples_total": self.before["samples_total"] + samples,
                   "wall_time_total_s": round(self.before["wall_time_total_s"] + wall, 1),
                   "options": asdict(self.tc),
                   "curve": history.extend_curve(self.before.get("curve"), self._new_log_rows(),
                                                 self.before["samples_total"], self.tc.batch_size)}
        cfg.setdefault("training", {})[self.name] = summary
        ckpt.write_config(self.model_dir, cfg)
        return summary

    def _new_log_rows(self) -> list[dict]:
        """The rows this run (and the runs it resumed) added to the log."""
        return history.read_log(self.log_path, self.before.get("log_offset", 0))

    def _final_losses(self, last: int = 50) -> dict:
        """Mean of each logged loss over the run's last ``last`` steps, read from the log (so also when a
        resumed run had nothing left to train)."""
        if not self.log_path.is_file():
            return {}
        rows = [json.loads(line) for line in self.log_path.read_text().splitlines()[-last:] if line.strip()]
        rows = [r for r in rows if r["step"] > rows[-1]["step"] - last]
        keys = [k for k in (rows[0] if rows else {}) if k not in ("step", "time_s")]
        return {k: round(sum(r[k] for r in rows) / len(rows), 5) for k in keys}

    def _save_state(self, step: int, elapsed: float) -> None:
        state = {"step": step, "elapsed": elapsed, "rng": json.dumps(self.bank.rng.bit_generator.state),
                 "before": json.dumps(self.before),
                 "modules": {k: m.state_dict() for k, m in self.modules.items()},
                 "optims": {k: o.state_dict() for k, o in self.optims.items()}}
        ckpt.replace_atomically(self.state_path, lambda tmp: torch.save(state, tmp))

    def update(self, name: str, loss: torch.Tensor) -> None:
        opt = self.optims[name]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], self.tc.grad_clip)
        opt.step()


def generator_param_groups(G: torch.nn.Module, lr: float, tc: TrainConfig) -> list[dict]:
    """Adam groups for G, after StyleGAN2's learning-rate equalization: the modulated convolutions' weights
    and the constant input are stored at unit scale (runtime gain) and take ``lr``, as do the noise strengths
    (StyleGAN2 trains them at the base rate); the mapping network
    takes ``lr * tc.mapping_lr_mult`` (StyleGAN2: 0.01); the other layers (style affines, to_mel biases,
    harmonic inputs), at PyTorch's default init scale, take ``lr * tc.style_lr_mult``."""
    groups = {"unit": [], "mapping": [], "other": []}
    for name, p in G.named_parameters():
        unit = (name == "const" or name.endswith(".noise_strength")
                or (name.endswith(".weight") and name.startswith(("convs.", "to_mels."))))
        groups["unit" if unit else "mapping" if name.startswith("mapping.") else "other"].append(p)
    mult = {"unit": 1.0, "mapping": tc.mapping_lr_mult, "other": tc.style_lr_mult}
    return [{"params": ps, "lr": lr * mult[k]} for k, ps in groups.items() if ps]
