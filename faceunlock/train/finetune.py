"""The fine-tuning loop: P×K batches, online triplet mining, held-out evaluation every epoch, keep the best.

Guard rails against the classic failure (training loss → 0 while the model matches 11 % of genuine pairs):
the held-out people are never trained on, the base model is "epoch 0" and stays the output unless an epoch
beats it on the held-out metric, early stopping ends a run that stopped improving, and the report prints the
training loss next to held-out TAR so a memorising model is visible in numbers.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from faceunlock.errors import FaceUnlockError
from faceunlock.train import checkpoint, dataset, layers, report
from faceunlock.train.config import FineTuneConfig
from faceunlock.train.dataset import PKSampler
from faceunlock.train.features import FeatureCache
from faceunlock.train.losses import TripletLoss
from faceunlock.train.runtime import Runtime


def say(msg: str) -> None:
    """Progress lines go to stderr next to the tqdm bars; stdout is left for the final table / JSON."""
    from tqdm import tqdm

    tqdm.write(msg, file=sys.stderr)


# -- model pieces ------------------------------------------------------------------------------------------------
class HeadOnly(nn.Module):
    """forward(features) = net.head(features), so DDP can wrap the head alone when trunk features are cached."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        return self.net.head(f)


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up to 1 over `warmup` steps, then cosine decay to 1 % at `total`."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    t = min(max(step - warmup, 0) / max(total - warmup, 1), 1.0)
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t))


def resolve_margin(cfg: FineTuneConfig, backbone, base_metrics: dict) -> float:
    """0.2 on unit embeddings (FaceNet's alpha); for raw descriptors, 0.2 of the base's impostor scale.

    An un-normalised model (dlib: impostors ~0.9 apart, genuine ~0.4) would find 0.2 either trivial or huge
    depending on its scale, so the margin is expressed relative to the unit-sphere distance √2.
    """
    if cfg.margin is not None:
        return float(cfg.margin)
    if backbone.normalize:
        return 0.2
    scale = base_metrics["impostor_median"] / math.sqrt(2)
    return 0.2 * (scale**2 if cfg.resolved_distance() == "squared-l2" else scale)


# -- the loop ------------------------------------------------------------------------------------------------
class Run:
    """One fine-tune: holds the model, optimiser and data; `fit()` runs epochs and writes the out folder."""

    def __init__(
        self, cfg: FineTuneConfig, backbone, data: dataset.TrainingData, rt: Runtime, base_untrained: bool
    ) -> None:
        self.cfg, self.bb, self.data, self.rt = cfg, backbone, data, rt
        self.out = Path(cfg.out)
        self.base_untrained = base_untrained
        self.net: nn.Module = backbone.net
        self.head_only = cfg.train_layers == "head"
        if not 1 <= cfg.augment <= len(dataset.AUGMENTATIONS):
            raise FaceUnlockError(f"--augment must be 1..{len(dataset.AUGMENTATIONS)}")
        self.params = layers.freeze(self.net, backbone.arch, cfg.train_layers, cfg.freeze_bn)
        if rt.device.type == "cuda":
            self.net.to(memory_format=torch.channels_last)
        self.sampler = PKSampler(data.train.labels, data.train.negative_only, cfg.p, cfg.k, cfg.seed,
                                 rt.rank, rt.world_size, cfg.negatives_per_batch)  # fmt: skip
        self.steps = len(self.sampler)
        if cfg.max_steps_per_epoch:
            self.steps = min(self.steps, cfg.max_steps_per_epoch)
        decay = [p for n, p in self.net.named_parameters() if p.requires_grad and not layers.no_decay(n, p)]
        plain = [p for n, p in self.net.named_parameters() if p.requires_grad and layers.no_decay(n, p)]
        self.lr = cfg.resolved_lr(base_untrained)
        # L2-SP (Li et al. 2018): λ·‖w − w_base‖² keeps a pretrained model close to what it knew (decision 007).
        self.l2_sp = cfg.resolved_l2_sp(base_untrained)
        self.anchor = [p.detach().clone() for p in self.params] if self.l2_sp else []
        self.opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.weight_decay},
                                      {"params": plain, "weight_decay": 0.0}], lr=self.lr)  # fmt: skip
        warm, total = round(cfg.warmup_epochs * self.steps), cfg.epochs * self.steps
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: lr_factor(s, warm, total))
        self.scaler = torch.amp.GradScaler("cuda", enabled=rt.amp_dtype == torch.float16)
        self.feats = self.val_feats = None
        if self.head_only:
            fc = FeatureCache(checkpoint.state_dir(self.out), backbone)
            self.feats = fc.get(data.train, cfg.augment, rt, cfg.progress).to(rt.device)
            self.val_feats = fc.get(data.val, 1, rt, cfg.progress)[:, 0].to(rt.device)
        module = HeadOnly(self.net) if self.head_only else self.net
        if rt.distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [rt.device.index] if rt.device.type == "cuda" else None
            module = DDP(module, device_ids=ids)
        self.model = module
        self.key = {**cfg.resume_key(), "base_sha256": backbone.sha256, "world_size": rt.world_size,
                    "train": data.train.fingerprint(), "val": data.val.fingerprint()}  # fmt: skip
        self.state = checkpoint.RunState()

    # -- evaluation (rank 0) --
    def embed_val(self) -> np.ndarray:
        self.net.eval()
        with torch.inference_mode(), self.small_ops():
            if self.head_only:
                outs = [
                    self.net.head(self.val_feats[i : i + 256]) for i in range(0, len(self.val_feats), 256)
                ]
                emb = self.bb.postprocess(torch.cat(outs).float()).cpu().numpy()
            else:
                emb = self.bb.embed(self.data.val.chips)
        return np.asarray(emb, np.float32)

    def evaluate_and_keep(self, epoch: int, entry: dict) -> bool:
        """Held-out metrics for this epoch; if they beat the best, make this epoch the published model."""
        t0 = time.perf_counter()
        emb = self.embed_val()
        metrics, g, i = report.evaluate(emb, self.data.val.labels, self.cfg.target_far)
        entry["metrics"] = metrics
        entry["eval_s"] = time.perf_counter() - t0
        s = report.score(metrics, self.cfg.monitor)
        best = self.state.best
        improved = best is None or s > best.score + 1e-6
        if improved:
            base = f"{self.cfg.base} ({self.bb.name}, sha256 {self.key['base_sha256'][:16]})"
            name, sha = checkpoint.save_candidate(self.bb, self.out, epoch, untrained=self.base_untrained,
                                                  base=base, label=self.out.name)  # fmt: skip
            cal = report.calibration(g, i, self.bb.name, self.bb.arch, sha, self.cfg.target_far,
                                     f"fine-tune held-out: {self.data.split}",
                                     {"epoch": epoch, "fine_tuned_from": self.cfg.base}, emb,
                                     list(self.data.val.labels))  # fmt: skip
            self.state.best = checkpoint.BestModel(epoch, name, sha, s, metrics, asdict(cal), report.roc_curve(g, i))
        if epoch == 0:
            self.state.base = {"metrics": metrics, "roc": report.roc_curve(g, i)}
        return improved

    def checkpoint(self, epoch: int) -> None:
        self.state.epoch, self.state.key = epoch, self.key
        checkpoint.save_state(
            self.out,
            {
                **self.state.to_dict(),
                "net": self.net.state_dict(),
                "opt": self.opt.state_dict(),
                "sched": self.sched.state_dict(),
                "scaler": self.scaler.state_dict(),
            },
        )
        checkpoint.publish(self.out, self.state.best)

    def restore(self, state: dict) -> None:
        if state["key"] != self.key:
            diff = sorted(k for k in self.key if state["key"].get(k) != self.key[k])
            raise FaceUnlockError(f"--resume: {self.out} was trained with other settings or data "
                                  f"({', '.join(diff)} differ); use the same flags or a new --out")  # fmt: skip
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        self.sched.load_state_dict(state["sched"])
        self.scaler.load_state_dict(state["scaler"])
        self.state = checkpoint.RunState.from_dict(state)

    # -- training --
    def small_ops(self) -> contextlib.AbstractContextManager:
        """Head-only steps on CPU are tiny matmuls: one thread, because OpenMP workers spinning on a busy
        2-core machine made them 30× slower (measured: 6.6 s → 0.19 s per epoch)."""
        return _one_thread() if self.head_only and self.rt.device.type == "cpu" else contextlib.nullcontext()

    def train_epoch(self, epoch: int, loss_fn: TripletLoss, hook=None) -> dict:
        with self.small_ops():
            return self._train_epoch(epoch, loss_fn, hook)

    def _train_epoch(self, epoch: int, loss_fn: TripletLoss, hook=None) -> dict:
        cfg, rt = self.cfg, self.rt
        layers.set_train_mode(self.net, self.bb.arch, cfg.train_layers, cfg.freeze_bn)
        torch.manual_seed(hash((cfg.seed, epoch, rt.rank)) & 0x7FFFFFFF)
        rng = np.random.default_rng([cfg.seed, epoch, rt.rank])
        loss_fn.generator = torch.Generator().manual_seed(cfg.seed * 1000 + epoch)
        self.sampler.set_epoch(epoch)
        from tqdm import tqdm

        batches = list(self.sampler)[: self.steps]
        bar = tqdm(batches, desc=f"epoch {epoch}/{cfg.epochs}", unit="step", leave=False,
                   disable=not (cfg.progress and rt.is_main), file=sys.stderr)  # fmt: skip
        t0, cpu0, sums = time.perf_counter(), time.process_time(), {"loss": 0.0, "triplets": 0, "active": 0}
        for step, idx in enumerate(bar):
            if hook:
                hook(epoch, step)
            labels = torch.from_numpy(self.data.train.labels[idx]).to(rt.device)
            variant = rng.integers(0, cfg.augment, len(idx))
            if self.head_only:
                inputs = self.feats[
                    torch.from_numpy(idx).to(rt.device), torch.from_numpy(variant).to(rt.device)
                ]
            else:
                chips = self.data.train.chips[idx].copy()
                for v in range(1, cfg.augment):
                    chips[variant == v] = dataset.augment(chips[variant == v], v)
                inputs = self.bb.to_tensor(chips)
            amp = (
                torch.autocast(rt.device.type, dtype=rt.amp_dtype)
                if rt.amp_dtype
                else contextlib.nullcontext()
            )
            with amp:
                out = self.model(inputs)
            res = loss_fn(self.bb.postprocess(out.float()), labels)
            loss = res.loss
            if self.l2_sp:
                loss = loss + self.l2_sp * sum(
                    ((p - p0) ** 2).sum() for p, p0 in zip(self.params, self.anchor, strict=True)
                )
            self.opt.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.opt)
            torch.nn.utils.clip_grad_norm_(self.params, 5.0)
            self.scaler.step(self.opt)
            self.scaler.update()
            self.sched.step()
            sums["loss"] += float(res.loss.detach())
            sums["triplets"] += res.triplets
            sums["active"] += res.active
            bar.set_postfix(loss=f"{sums['loss'] / (step + 1):.4f}", active=f"{res.fraction_active:.0%}")
        n = max(len(batches), 1)
        return {"epoch": epoch, "loss": sums["loss"] / n, "triplets_per_step": sums["triplets"] / n,
                "fraction_active": sums["active"] / max(sums["triplets"], 1), "lr": self.sched.get_last_lr()[0],
                "steps": len(batches), "train_s": time.perf_counter() - t0,
                "train_cpu_s": time.process_time() - cpu0}  # fmt: skip

    def fit(self, hook=None) -> dict:
        cfg, rt = self.cfg, self.rt
        t_start = time.perf_counter()
        state = checkpoint.load_state(self.out, "cpu") if cfg.resume else None
        if state is not None:
            self.restore(state)
            if rt.is_main:
                checkpoint.publish(self.out, self.state.best)
                say(f"resuming after epoch {self.state.epoch} (best so far: epoch {self.state.best.epoch})")
        else:
            if rt.is_main:
                entry = {"epoch": 0, "loss": None}
                self.evaluate_and_keep(0, entry)
                self.state.history, self.state.stale, self.state.stopped_early = [entry], 0, False
                self.state.margin = resolve_margin(cfg, self.bb, entry["metrics"])
                self.checkpoint(0)
                say(_line(entry, cfg.monitor))
            self.state = rt.broadcast(self.state if rt.is_main else None)
        loss_fn = TripletLoss(cfg.mining, self.state.margin, cfg.resolved_distance())
        stop = self.state.stopped_early
        for epoch in range(self.state.epoch + 1, cfg.epochs + 1):
            if stop:
                break
            try:
                entry = self.train_epoch(epoch, loss_fn, hook)
            except torch.OutOfMemoryError as e:
                raise FaceUnlockError(_oom_hint(cfg)) from e
            except RuntimeError as e:  # CPU allocator failures are plain RuntimeErrors
                if "can't allocate memory" in str(e):
                    raise FaceUnlockError(_oom_hint(cfg)) from e
                raise
            if rt.is_main:
                improved = self.evaluate_and_keep(epoch, entry)
                self.state.stale = 0 if improved else self.state.stale + 1
                self.state.history.append(entry)
                stop = self.state.stale >= cfg.patience
                self.state.stopped_early = stop and epoch < cfg.epochs
                self.checkpoint(epoch)
                say(_line(entry, cfg.monitor) + ("  *best*" if improved else ""))
            stop = rt.broadcast(stop)
            rt.barrier()
        result = self.finish(time.perf_counter() - t_start) if rt.is_main else {}
        rt.barrier()
        return result

    def finish(self, seconds: float) -> dict:
        """Write report.json and roc.png; return the report."""
        cfg, st = self.cfg, self.state
        best, base = st.best, st.base
        trained = [h for h in st.history if h["epoch"] > 0]
        curves = {"before (base)": base["roc"], f"after (epoch {best.epoch})": best.roc}
        report.plot(curves, self.out / checkpoint.ROC, cfg.target_far, f"held-out ROC — {self.out.name}")
        rep = {
            "format": "faceunlock-finetune-report/1", "out": str(self.out),
            "weights": str(self.out / checkpoint.WEIGHTS), "sha256": best.sha256,
            "calibration": str(self.out / checkpoint.CALIBRATION), "config": asdict(cfg),
            "base": {"spec": cfg.base, "name": self.bb.name, "arch": self.bb.arch,
                     "sha256": self.key["base_sha256"], "untrained": self.base_untrained},
            "data": {"split": self.data.split, "train": self.data.train.summary(), "val": self.data.val.summary(),
                     "val_identities": [self.data.val.names[i] for i in self.data.val.identities()],
                     "skipped_files": self.data.train.problems + self.data.val.problems,
                     "warnings": self.data.train.warnings + self.data.val.warnings},
            "training": {"margin": st.margin, "distance": cfg.resolved_distance(), "lr": self.lr,
                         "steps_per_epoch": self.steps, "batch": f"{self.sampler.p}x{cfg.k}",
                         "world_size": self.rt.world_size, "device": str(self.rt.device),
                         "amp": str(self.rt.amp_dtype).removeprefix("torch.") if self.rt.amp_dtype else "off",
                         "epoch_train_s_mean": float(np.mean([h["train_s"] for h in trained])) if trained else None,
                         "stopped_early": st.stopped_early, "total_s_this_session": seconds},
            "history": st.history, "before": base["metrics"], "after": best.metrics,
            "best_epoch": best.epoch,
            "verdict": report.verdict(base["metrics"], best.metrics, best.epoch, st.history, cfg.monitor),
            "table": report.table(base["metrics"], best.metrics),
        }  # fmt: skip
        report.write_json(self.out / checkpoint.REPORT, rep)
        return rep


@contextlib.contextmanager
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _line(h: dict, monitor: str) -> str:
    m = h["metrics"]
    loss = "base model" if h["epoch"] == 0 else f"loss {h['loss']:.4f} active {h['fraction_active']:.0%} " \
                                                f"({h['train_s']:.1f}s)"  # fmt: skip
    return (f"epoch {h['epoch']}: {loss} | held-out AUC {m['auc']:.4f} EER {m['eer']:.2%} "
            f"TAR@{m['target_far']:g} {m['tar']:.2%}")  # fmt: skip


def _oom_hint(cfg: FineTuneConfig) -> str:
    p, k = max(2, cfg.p // 2), cfg.k
    return (f"out of memory with batches of {cfg.p}×{cfg.k} = {cfg.p * cfg.k} images per step; try "
            f"--people-per-batch {p} --images-per-person {k} ({p * k} images), --train-layers head, or --amp bf16")  # fmt: skip


# -- entry points --------------------------------------------------------------------------------------------
def load_base(cfg: FineTuneConfig, device: str) -> tuple[Any, bool]:
    """The starting model and whether it is untrained. `random` only when asked for by name."""
    from faceunlock import weights

    if cfg.base == "random":
        return weights.random_backbone(cfg.arch, seed=cfg.seed, device=device), True
    bb = weights.resolve_backbone(cfg.base, device=device, allow_untrained=False)
    return bb, bool(bb.meta.get("untrained", False))


def check_out(cfg: FineTuneConfig) -> None:
    """Refuse to mix two runs in one folder: a previous run is continued (--resume) or replaced (--overwrite)."""
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise FaceUnlockError(f"--out {out}: exists and is not a folder")
    if (checkpoint.state_dir(out) / checkpoint.LAST).exists() and not cfg.resume and not cfg.overwrite:
        raise FaceUnlockError(f"--out {out} holds a previous fine-tune: pass --resume to continue it or "
                              "--overwrite to start again")  # fmt: skip


def prepare_out(cfg: FineTuneConfig) -> None:
    """Create OUT once the data has loaded; --overwrite removes only the files a fine-tune writes there."""
    out = Path(cfg.out)
    try:
        if cfg.overwrite:
            for name in (checkpoint.WEIGHTS, checkpoint.CALIBRATION, checkpoint.REPORT, checkpoint.ROC):
                (out / name).unlink(missing_ok=True)
            if checkpoint.state_dir(out).is_dir():
                for p in checkpoint.state_dir(out).iterdir():  # trunk-feature caches stay: keyed by content
                    if p.name == checkpoint.LAST or p.name.startswith("weights-e"):
                        p.unlink()
        checkpoint.state_dir(out).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FaceUnlockError(f"--out {out}: cannot prepare folder ({e})") from e


def fine_tune_folders(cfg: FineTuneConfig, hook=None) -> dict:
    """`faceunlock fine-tune`: folders in, OUT/{weights.pt, calibration.json, report.json, roc.png} out."""
    from faceunlock.train import runtime

    rt = runtime.start(cfg.device, cfg.amp)
    try:
        if rt.is_main:
            check_out(cfg)
        rt.barrier()
        backbone, untrained = load_base(cfg, str(rt.device))
        data = dataset.prepare_data(cfg, backbone, rt)
        if rt.is_main:
            prepare_out(cfg)
        rt.barrier()
        return Run(cfg, backbone, data, rt, untrained).fit(hook)
    finally:
        rt.close()
