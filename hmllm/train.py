"""`hmllm train`: fit the response model on a prepared dataset (plain PyTorch loop).

Seeded and deterministic on CPU; AMP on CUDA; gradient clipping; early stopping on validation P2
accuracy; checkpoints every epoch (``last.pt``) and on improvement (``best.pt``) with resume;
CSV and TensorBoard metrics; a progress bar. Runs land in ``<paths.runs>/<run_name>/`` beside the
resolved config and a model card. Under torchrun (``trainer=ddp``) gradients are averaged across
processes with DistributedDataParallel and only rank 0 writes.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from hmllm import distributed as hd
from hmllm.errors import ConfigError
from hmllm.model import checkpoint
from hmllm.model.data import INDICES, PreparedData, load
from hmllm.model.losses import total_loss
from hmllm.model.net import N_CLASSES, ResponseModel
from hmllm.paths import resolve_path

log = logging.getLogger(__name__)
FUSIONS = ("hypergraph", "concat", "late")


def build_model(mcfg: dict, data: PreparedData) -> ResponseModel:
    """Instantiate the model for this dataset (checks the config first)."""
    if mcfg["fusion"] not in FUSIONS:
        raise ConfigError(f"model.fusion must be one of {FUSIONS}, got {mcfg['fusion']!r}")
    if int(mcfg["dim"]) <= 0 or int(mcfg["layers"]) < 0:
        raise ConfigError(
            f"model.dim must be > 0 and model.layers >= 0, got {mcfg['dim']}, {mcfg['layers']}"
        )
    if mcfg.get("temporal_mode", "undirected") not in ("causal", "undirected"):
        raise ConfigError(
            f"model.temporal_mode must be causal or undirected, got {mcfg['temporal_mode']!r}"
        )
    if mcfg["edges"]["temporal"] and int(mcfg["temporal_window"]) < 1:
        raise ConfigError(
            f"model.temporal_window must be >= 1 with temporal edges on, got "
            f"{mcfg['temporal_window']}; set model.edges.temporal=false to drop them"
        )
    if mcfg.get("class_head", "softmax") not in ("softmax", "ordinal"):
        raise ConfigError(
            f"model.class_head must be softmax or ordinal, got {mcfg['class_head']!r}"
        )
    v = data.vocab
    model = ResponseModel(
        len(v.feature_names),
        len(v.genders) + len(v.age_bands),
        len(v.signal_names),
        mcfg,
        data.saliency_hw,
    )
    model.set_thresholds(data.classes)
    return model


@torch.no_grad()
def predict_cells(model: ResponseModel, data: PreparedData, ads: list[str]) -> pd.DataFrame:
    """Class probabilities and values for every labelled cell of ``ads`` (eval mode)."""
    model.eval()
    rows = []
    for ad in ads:
        b = data.batch([ad])
        out = model(b)
        lab = data.per_ad[ad]["labels"].reset_index(drop=True)
        df = lab[
            ["ad_id", "shot", "group", "n_participants", *INDICES, *[f"{k}_class" for k in INDICES]]
        ].copy()
        for k in N_CLASSES:
            prob = torch.softmax(out[f"logits_{k}"].float(), -1).numpy()
            df[f"pred_{k}"] = prob.argmax(1)
            for c in range(prob.shape[1]):
                df[f"p_{k}_{c}"] = prob[:, c]
        for i, k in enumerate(INDICES):
            df[f"value_{k}"] = out["value"][:, i].numpy()
            df[f"sd_{k}"] = np.exp(0.5 * out["log_var"][:, i].numpy())
        ad_out = torch.sigmoid(out["ad"][0]).numpy()
        df["pred_ctr"], df["pred_completion"] = ad_out[0], ad_out[1]
        rows.append(df)
    return pd.concat(rows, ignore_index=True)


def p2_accuracy(pred: pd.DataFrame) -> float:
    """Mean over indices of P2 (non-``all`` groups) accuracy — the early-stopping criterion."""
    p2 = pred[pred["group"] != "all"]
    accs = [
        float((p2[f"pred_{k}"] == p2[f"{k}_class"])[p2[f"{k}_class"] >= 0].mean())
        for k in N_CLASSES
    ]
    return float(np.nanmean(accs))


class Objective(torch.nn.Module):
    """The model and its training loss in one ``forward``, returning ``(loss, terms)``.

    DistributedDataParallel only synchronises the gradients of parameters used inside the
    wrapped module's forward; the InfoNCE term runs the signal encoder inside the loss, so the
    loss has to be part of that forward.
    """

    def __init__(self, model: ResponseModel, weights: dict):
        super().__init__()
        self.model, self.weights = model, weights

    def forward(self, b) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss and its terms for one batch."""
        return total_loss(self.model, self.model(b), b, self.weights)


def _run_dir(cfg) -> Path:
    return resolve_path(cfg.paths.runs) / str(cfg.run_name)


def train(cfg) -> dict:
    """Train per ``cfg`` and return a summary (best epoch, validation P2 accuracy, timing).

    With ``trainer.ensemble: N > 1`` the model is trained N times with seeds ``trainer.seed + k``
    (each member in ``<run>/members/<k>/``, resumable on its own) and ``<run>/best.pt`` holds all
    N members; inference averages their class probabilities (:mod:`hmllm.model.ensemble`).
    """
    t = OmegaConf.to_container(cfg.trainer, resolve=True)
    mcfg = OmegaConf.to_container(cfg.model, resolve=True)
    n_members = int(t.get("ensemble", 1))
    if n_members < 1:
        raise ConfigError(f"trainer.ensemble must be 1 or more (models averaged), got {n_members}")
    info = hd.setup(device=t["device"]) if t.get("distributed") else hd.DistInfo()
    torch.use_deterministic_algorithms(True, warn_only=True)
    if int(t.get("threads", 0)) > 0:
        # small graphs: extra intra-op threads only spin-wait against other processes on a shared CPU
        torch.set_num_threads(int(t["threads"]))
    device = torch.device(
        info.device
        if t.get("distributed")
        else (
            "cuda"
            if t["device"] == "cuda" or (t["device"] == "auto" and torch.cuda.is_available())
            else "cpu"
        )
    )
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device=cuda but no CUDA device is available; use trainer=cpu")
    data = load(resolve_path(cfg.paths.prepared), use_signals=list(mcfg["align_signals"]))
    build_model(mcfg, data)  # a bad model config fails here, before any member trains
    run_dir = _run_dir(cfg)
    if n_members == 1:
        summary = _fit(cfg, data, device, info, run_dir, seed=int(t["seed"]))
    else:
        members = []
        for k in range(n_members):
            member_dir = run_dir / "members" / str(k)
            done = member_dir / "train_summary.json"
            if t["resume"] and done.is_file() and (member_dir / "best.pt").is_file():
                log.info("member %d of %s already trained; kept", k, run_dir)
                # the folder it is in now, not the one recorded (the data root may have moved)
                members.append({**json.loads(done.read_text()), "run_dir": str(member_dir)})
                continue
            members.append(_fit(cfg, data, device, info, member_dir, seed=int(t["seed"]) + k,
                                label=f" [{k + 1}/{n_members}]"))  # fmt: skip
        summary = _save_ensemble(cfg, data, run_dir, members) if info.is_main else {}
        hd.barrier(info)
    if t.get("distributed"):
        hd.teardown()
    return summary


def _save_ensemble(cfg, data: PreparedData, run_dir: Path, members: list[dict]) -> dict:
    """Write ``<run>/best.pt`` with every member's weights; validate the averaged model."""
    from hmllm.model.ensemble import model_from_state

    states = [checkpoint.load(Path(m["run_dir"]) / "best.pt") for m in members]
    mcfg = OmegaConf.to_container(cfg.model, resolve=True)
    first = states[0]
    state = {**first, "members": [st["state_dict"] for st in states]}
    model = model_from_state(state, lambda: build_model(mcfg, data))
    val_ads = data.split_ads("val") or data.split_ads("train")
    score = p2_accuracy(predict_cells(model, data, val_ads))
    card = {**model_card(cfg, data, score, -1), "ensemble": len(members),
            "member_seeds": [int(cfg.trainer.seed) + k for k in range(len(members))],
            "member_best_val_p2_acc": [m["best_val_p2_acc"] for m in members],
            "member_best_epoch": [m["best_epoch"] for m in members]}  # fmt: skip
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    checkpoint.save(run_dir / "best.pt", model.members[0], data.vocab, data.classes,
                    OmegaConf.to_container(cfg, resolve=True), card, epoch=-1,
                    extra={"best": score, "best_epoch": -1, "saliency_hw": list(data.saliency_hw)},
                    members=[m.state_dict() for m in model.members])  # fmt: skip
    summary = {"run_dir": str(run_dir), "best_val_p2_acc": score, "best_epoch": -1,
               "ensemble": len(members),
               "member_best_val_p2_acc": card["member_best_val_p2_acc"],
               "train_seconds": sum(m["train_seconds"] for m in members),
               "cells_per_s": float(np.mean([m["cells_per_s"] for m in members]))}  # fmt: skip
    (run_dir / "model_card.json").write_text(json.dumps(card, indent=2))
    (run_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def _fit(cfg, data: PreparedData, device: torch.device, info, run_dir: Path, *, seed: int,
         label: str = "") -> dict:  # fmt: skip
    """Train one model with ``seed`` into ``run_dir``; returns its summary."""
    t = OmegaConf.to_container(cfg.trainer, resolve=True)
    mcfg = OmegaConf.to_container(cfg.model, resolve=True)
    torch.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeds any library code that uses the global RNG
    model = build_model(mcfg, data).to(device)
    ddp = Objective(model, mcfg["loss_weights"])
    if info.enabled:  # some heads are unused per config (late fusion, ordinal), hence the search
        ddp = torch.nn.parallel.DistributedDataParallel(
            ddp, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=True,
        )  # fmt: skip
    opt = torch.optim.AdamW(
        model.parameters(), lr=float(t["lr"]), weight_decay=float(t["weight_decay"])
    )
    # Exponential moving average of the weights (trainer.ema_decay > 0): validation, best.pt and
    # inference use the average, which varies less from seed to seed than the last step's weights.
    # The decay ramps up as min(decay, (1 + n) / (10 + n)) after n steps (as TensorFlow's
    # ExponentialMovingAverage with num_updates), so small studies with few steps are not stuck
    # near their random initial weights.
    decay = float(t.get("ema_decay", 0.0))
    ema = (
        torch.optim.swa_utils.AveragedModel(
            model,
            avg_fn=lambda avg, cur, n: avg + (cur - avg) * (1 - min(decay, (1 + n) / (10 + n))),
            use_buffers=True,
        )
        if decay > 0
        else None
    )
    scaler = torch.amp.GradScaler("cuda", enabled=bool(t["amp"]) and device.type == "cuda")
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    train_ads, val_ads = data.split_ads("train"), data.split_ads("val") or data.split_ads("train")
    start_epoch, best, best_epoch, stale = 0, -1.0, -1, 0
    if t["resume"] and (run_dir / "last.pt").is_file():
        st = checkpoint.load(run_dir / "last.pt")
        model.load_state_dict(st["state_dict"])
        opt.load_state_dict(st["optimizer"])
        if ema is not None and "ema_state_dict" in st:
            ema.load_state_dict(st["ema_state_dict"])
        start_epoch, best, best_epoch, stale = (
            st["epoch"] + 1,
            st["best"],
            st["best_epoch"],
            st["stale"],
        )
        log.info("resumed from %s at epoch %d", run_dir / "last.pt", start_epoch)
    writer = None
    if t["tensorboard"] and info.is_main:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tb"))
    debug = cfg.get("debug") or {}
    epochs = int(debug.get("epochs", t["epochs"]))
    plain_cfg = OmegaConf.to_container(cfg, resolve=True)
    metrics_file = run_dir / "metrics.csv"
    if info.is_main and start_epoch == 0 and metrics_file.is_file():
        metrics_file.unlink()  # a fresh run's log, not appended to an older run's
    rng = np.random.default_rng(seed)
    bs = int(t["ads_per_batch"])
    t0 = time.perf_counter()
    n_cells = 0
    bar = tqdm(
        range(start_epoch, epochs),
        desc=f"train {cfg.run_name}{label}",
        unit="epoch",
        disable=not (t["progress"] and info.is_main),
    )
    for epoch in bar:
        model.train()
        t_epoch = time.perf_counter()
        order = [train_ads[i] for i in rng.permutation(len(train_ads))]
        # bs is the global batch: each rank trains on its strided share of every batch
        mine = [hd.split_batch(order[i : i + bs], info) for i in range(0, len(order), bs)]
        if debug.get("overfit"):
            mine = mine[:1]
        losses = []
        for ads in mine:
            b = data.batch(ads)
            b = type(b)(
                **{
                    k: (
                        v.to(device)
                        if torch.is_tensor(v)
                        else (
                            {kk: vv.to(device) for kk, vv in v.items()}
                            if isinstance(v, dict)
                            else v
                        )
                    )
                    for k, v in b.__dict__.items()
                }
            )
            with torch.autocast(device.type, enabled=scaler.is_enabled()):
                loss, terms = ddp(b)
            opt.zero_grad()
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(t["grad_clip"]))
            scaler.step(opt)
            scaler.update()
            if ema is not None:
                ema.update_parameters(model)
            losses.append(float(loss.detach()))
            n_cells += len(b.shot)
            if debug.get("fast_dev_run"):
                break
        judged = ema.module if ema is not None else model  # the weights validated and kept
        judged.cpu()
        val_mine = hd.shard(val_ads, info)  # each rank predicts its share of the validation ads
        val_parts = hd.gather_objects(
            predict_cells(judged, data, val_mine) if val_mine else None, info
        )
        judged.to(device)
        score = p2_accuracy(pd.concat([p for p in val_parts if p is not None], ignore_index=True))
        if info.enabled:  # every rank's losses, so rank 0 logs the same numbers as one process
            parts = hd.gather_objects((losses, terms if losses else {}), info)
            losses = [x for ls, _ in parts for x in ls]
            terms = {k: float(np.mean([tm[k] for _, tm in parts if k in tm]))
                     for k in dict.fromkeys(k for _, tm in parts for k in tm)}  # fmt: skip
        train_loss = float(np.mean(losses)) if losses else float("nan")
        improved = score > best
        if improved:
            best, best_epoch, stale = score, epoch, 0
        else:
            stale += 1
        if info.is_main:
            row = (
                {
                    "epoch": epoch,
                    "epoch_s": time.perf_counter() - t_epoch,
                    "train_loss": train_loss,
                    "val_p2_acc": score,
                    **{f"loss_{k}": v for k, v in terms.items()},
                }
                if losses
                else {"epoch": epoch, "val_p2_acc": score}
            )
            new = not metrics_file.is_file()
            with metrics_file.open("a", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(row))
                if new:
                    w.writeheader()
                w.writerow(row)
            if writer:
                for k, v in row.items():
                    if k != "epoch":
                        writer.add_scalar(k, v, epoch)
            card = {**model_card(cfg, data, best, best_epoch), "seed": seed}
            extra = {
                "best": best,
                "best_epoch": best_epoch,
                "stale": stale,
                "saliency_hw": list(data.saliency_hw),
            }
            # last.pt: the raw weights, optimizer and average, for resuming; best.pt: for inference
            checkpoint.save(run_dir / "last.pt", model, data.vocab, data.classes, plain_cfg, card,
                            epoch=epoch, optimizer=opt, extra=extra, ema=ema)  # fmt: skip
            if improved:
                checkpoint.save(run_dir / "best.pt", judged, data.vocab, data.classes, plain_cfg,
                                card, epoch=epoch, extra=extra)  # fmt: skip
        bar.set_postfix(loss=f"{train_loss:.3f}", val_p2=f"{score:.3f}", best=f"{best:.3f}")
        stop = stale >= int(t["patience"]) or bool(debug.get("fast_dev_run"))
        if hd.reduce_sums({"stop": float(stop)}, info)["stop"] > 0:  # same decision on all ranks
            break
    seconds = time.perf_counter() - t0
    n_cells = hd.reduce_sums({"n": n_cells}, info)["n"]  # cells of all ranks
    if writer:
        writer.close()
    summary = {"run_dir": str(run_dir), "best_val_p2_acc": best, "best_epoch": best_epoch,
               "train_seconds": seconds, "cells_per_s": n_cells / max(seconds, 1e-9)}  # fmt: skip
    if info.is_main:
        (run_dir / "model_card.json").write_text(
            json.dumps({**model_card(cfg, data, best, best_epoch), "seed": seed}, indent=2)
        )
        (run_dir / "train_summary.json").write_text(json.dumps(summary, indent=2))
    hd.barrier(info)
    return summary


def model_card(cfg, data: PreparedData, best: float, best_epoch: int) -> dict:
    """What the model is, what it was trained on, for whom, and how well it did on validation."""
    lab = pd.concat([p["labels"] for a, p in data.per_ad.items() if data.ads[a] == "train"])
    sizes = lab.groupby("group")["n_participants"].median().astype(int).to_dict()
    ads = data.ad_outcomes
    train_ads = ads[ads["split"] == "train"]
    return {
        "model": str(cfg.model.name), "fusion": str(cfg.model.fusion), "run_name": str(cfg.run_name),
        "prepared": str(resolve_path(cfg.paths.prepared)), "features": data.vocab.feature_names,
        "feature_extractor": str(cfg.get("features", {}).get("name", "handcrafted")) if cfg.get("features") else "handcrafted",
        "groups": data.vocab.groups, "group_train_median_participants": sizes,
        "n_train_ads": len(train_ads), "train_ctr": train_ads["ctr"].dropna().tolist() if "ctr" in train_ads else [],
        "train_completion": train_ads["completion_rate"].dropna().tolist() if "completion_rate" in train_ads else [],
        "best_val_p2_acc": best, "best_epoch": best_epoch, "seed": int(cfg.trainer.seed),
        "torch": str(torch.__version__), "classes": {k: v["names"] for k, v in data.classes.items()},
        "k_anonymity": int(cfg.audience.k_anonymity) if cfg.get("audience") else 5,
    }  # fmt: skip


def run(cfg) -> None:
    """CLI entry of `hmllm train`."""
    summary = train(cfg)
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return
    kept = (f"averaging {summary['ensemble']} seeds" if summary.get("ensemble")
            else f"at epoch {summary['best_epoch']}")  # fmt: skip
    print(f"trained {cfg.run_name}: best val P2 accuracy {summary['best_val_p2_acc']:.3f} {kept} "
          f"({summary['train_seconds']:.0f} s) -> {summary['run_dir']}")  # fmt: skip
