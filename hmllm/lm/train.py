"""Train, evaluate and query the language stage on the instruction JSONL."""

from __future__ import annotations

import json
import logging
import re
import string
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from hmllm.errors import ConfigError, DataError
from hmllm.lm.data import ShotBank, ad_splits, load_shot_bank, read_instructions
from hmllm.lm.model import ShotPrefixLM, build_lm, load_lm_run, save_lm_run

log = logging.getLogger(__name__)

PROMPT = "Question: {question} Answer:"


def normalise_answer(text: str) -> str:
    """Lower-case, strip surrounding punctuation and collapse whitespace (exact-match scoring)."""
    text = text.lower().strip().strip(string.punctuation + " ")
    return re.sub(r"\s+", " ", text)


def _encode(rec, bank: ShotBank, tokenizer, max_shots: int, max_len: int, with_answer: bool):
    feats = bank.for_ad(str(rec["ad_id"]))[:max_shots]
    focus = np.zeros(len(feats), np.float32)
    shot = rec.get("shot")
    if shot is not None and 0 <= int(shot) < len(feats):
        focus[int(shot)] = 1.0
    prompt = tokenizer(PROMPT.format(question=rec["question"]), add_special_tokens=False)[
        "input_ids"
    ]
    prompt = [tokenizer.bos_token_id, *prompt] if tokenizer.bos_token_id is not None else prompt
    answer = []
    if with_answer:
        answer = tokenizer(" " + str(rec["answer"]), add_special_tokens=False)["input_ids"]
        answer = [*answer, tokenizer.eos_token_id]
    ids = (prompt + answer)[:max_len]
    labels = ([-100] * len(prompt) + answer)[:max_len]
    return {"feats": feats, "focus": focus, "ids": ids, "labels": labels}


def _collate(items: list[dict], pad_id: int, left_pad: bool = False) -> dict[str, torch.Tensor]:
    s = max(len(it["feats"]) for it in items)
    f = items[0]["feats"].shape[1]
    length = max(len(it["ids"]) for it in items)
    b = len(items)
    feats = torch.zeros(b, s, f)
    shot_mask = torch.zeros(b, s, dtype=torch.long)
    focus = torch.zeros(b, s)
    ids = torch.full((b, length), pad_id, dtype=torch.long)
    att = torch.zeros(b, length, dtype=torch.long)
    labels = torch.full((b, length), -100, dtype=torch.long)
    for i, it in enumerate(items):
        n = len(it["feats"])
        feats[i, :n] = torch.from_numpy(it["feats"])
        shot_mask[i, :n] = 1
        focus[i, :n] = torch.from_numpy(it["focus"])
        m = len(it["ids"])
        sl = slice(length - m, length) if left_pad else slice(0, m)
        ids[i, sl] = torch.tensor(it["ids"])
        att[i, sl] = 1
        labels[i, sl] = torch.tensor(it["labels"])
    return {"feats": feats, "shot_mask": shot_mask, "focus": focus, "input_ids": ids,
            "attention_mask": att, "labels": labels}  # fmt: skip


def _split_records(prepared: Path, max_train: int, max_eval: int, seed: int):
    records = read_instructions(prepared / "instructions.jsonl")
    splits = ad_splits(prepared)
    train = [r for r in records if splits.get(str(r["ad_id"])) == "train"]
    test = [r for r in records if splits.get(str(r["ad_id"])) == "test"]
    if not train:
        raise DataError(f"{prepared}/instructions.jsonl has no questions about training ads")
    rng = np.random.default_rng(seed)
    if max_train and len(train) > max_train:
        train = [train[i] for i in sorted(rng.choice(len(train), max_train, replace=False))]
    if max_eval and len(test) > max_eval:
        test = [test[i] for i in sorted(rng.choice(len(test), max_eval, replace=False))]
    return train, test


def train_lm(cfg) -> dict[str, Any]:
    """Instruction-tune the prefix LM on ``prepared/instructions.jsonl``; returns test metrics.

    Writes ``<lm.run_dir>/`` (see :func:`hmllm.lm.model.save_lm_run`) and ``metrics.json``.
    """
    from omegaconf import OmegaConf

    from hmllm.paths import resolve_path

    lm_cfg = OmegaConf.to_container(cfg.lm, resolve=True)
    t = lm_cfg["train"]
    for key in ("epochs", "batch_size", "max_len"):
        if int(t[key]) <= 0:
            raise ConfigError(f"lm.train.{key} must be positive, got {t[key]}")
    if float(t["lr"]) <= 0:
        raise ConfigError(f"lm.train.lr must be positive, got {t['lr']}")
    seed = int(t["seed"])
    torch.manual_seed(seed)
    prepared = resolve_path(cfg.paths.prepared)
    train, test = _split_records(
        prepared, int(t["max_examples"]), int(lm_cfg["eval"]["max_examples"]), seed
    )
    train_ads = sorted({str(r["ad_id"]) for r in train})
    bank = load_shot_bank(prepared / "features.parquet", train_ads)
    corpus = [PROMPT.format(question=r["question"]) + " " + str(r["answer"]) for r in train]
    model, tokenizer = build_lm(lm_cfg, len(bank.feature_names), corpus)
    max_shots, max_len = int(lm_cfg["max_shots"]), int(t["max_len"])
    items = [_encode(r, bank, tokenizer, max_shots, max_len, True) for r in train]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=float(t["lr"]), weight_decay=float(t["weight_decay"]))
    rng = np.random.default_rng(seed)
    bs = int(t["batch_size"])
    model.train()
    history = []
    steps = int(np.ceil(len(items) / bs)) * int(t["epochs"])
    max_steps = int(t.get("max_steps") or 0)
    bar = tqdm(total=min(steps, max_steps) if max_steps else steps, desc="lm train", unit="step",
               disable=not cfg.get("progress", True))  # fmt: skip
    step = 0
    for epoch in range(int(t["epochs"])):
        order = rng.permutation(len(items))
        for start in range(0, len(order), bs):
            batch = _collate([items[i] for i in order[start : start + bs]], tokenizer.pad_token_id)
            loss = model(**batch).loss
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, float(t["grad_clip"]))
            opt.step()
            loss_value = float(loss.detach())
            history.append({"epoch": epoch, "step": step, "loss": loss_value})
            step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.3f}")
            if max_steps and step >= max_steps:
                break
        if max_steps and step >= max_steps:
            break
    bar.close()
    run_dir = resolve_path(lm_cfg["run_dir"])
    meta = {
        "feature_names": bank.feature_names,
        "feature_mean": bank.mean,
        "feature_std": bank.std,
        "tokens_per_shot": model.tokens_per_shot,
        "max_shots": model.max_shots,
        "base_model": lm_cfg["model"].get("name_or_path"),
        "prepared": str(prepared),
        "n_train": len(train),
        "seed": seed,
    }
    save_lm_run(run_dir, model, tokenizer, meta)
    metrics = evaluate_examples(model, tokenizer, bank, test, lm_cfg)
    metrics["train_loss_first"] = history[0]["loss"] if history else None
    metrics["train_loss_last"] = history[-1]["loss"] if history else None
    metrics["steps"] = step
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True))
    with (run_dir / "train_log.jsonl").open("w") as fh:
        fh.writelines(json.dumps(h) + "\n" for h in history)
    log.info("language stage written to %s: %s", run_dir, metrics)
    return metrics


def generate_answers(model: ShotPrefixLM, tokenizer, bank: ShotBank, records, lm_cfg) -> list[str]:
    """Greedy answers for ``records`` (one batch at a time, left-padded prompts)."""
    model.eval()
    out: list[str] = []
    bs = int(lm_cfg["eval"]["batch_size"])
    max_new = int(lm_cfg["eval"]["max_new_tokens"])
    max_shots, max_len = int(lm_cfg["max_shots"]), int(lm_cfg["train"]["max_len"])
    for start in range(0, len(records), bs):
        chunk = records[start : start + bs]
        items = [_encode(r, bank, tokenizer, max_shots, max_len, False) for r in chunk]
        batch = _collate(items, tokenizer.pad_token_id, left_pad=True)
        batch.pop("labels")
        ids = model.generate(**batch, max_new_tokens=max_new, eos_id=tokenizer.eos_token_id)
        out.extend(tokenizer.batch_decode(ids, skip_special_tokens=True))
    return [o.strip() for o in out]


def evaluate_examples(model, tokenizer, bank: ShotBank, records, lm_cfg) -> dict[str, Any]:
    """Exact match (subjective questions) and ROUGE-L F1 (objective ones) on ``records``.

    When ``lm.judge.model_name_or_path`` is set, objective answers are also scored 0–5 by that
    judge LM in the Video-ChatGPT style (:mod:`hmllm.lm.judge`).
    """
    from rouge_score import rouge_scorer

    if not records:
        return {"n": 0}
    preds = generate_answers(model, tokenizer, bank, records, lm_cfg)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rows: dict[str, list[float]] = {"subjective_em": [], "objective_rougeL": [], "all_rougeL": []}
    for rec, pred in zip(records, preds, strict=True):
        ref = str(rec["answer"])
        rl = scorer.score(ref, pred)["rougeL"].fmeasure
        rows["all_rougeL"].append(rl)
        if rec.get("task", "subjective") == "subjective":
            rows["subjective_em"].append(float(normalise_answer(pred) == normalise_answer(ref)))
        else:
            rows["objective_rougeL"].append(rl)
    metrics: dict[str, Any] = {k: (float(np.mean(v)) if v else None) for k, v in rows.items()}
    metrics["n"] = len(records)
    metrics["examples"] = [
        {"question": r["question"], "answer": r["answer"], "predicted": p}
        for r, p in list(zip(records, preds, strict=True))[:10]
    ]
    judge = lm_cfg.get("judge", {}).get("model_name_or_path")
    if judge:
        from hmllm.lm.judge import judge_scores

        obj = [(r, p) for r, p in zip(records, preds, strict=True) if r.get("task") == "objective"]
        scores = judge_scores(judge, [r["question"] for r, _ in obj],
                              [str(r["answer"]) for r, _ in obj], [p for _, p in obj])  # fmt: skip
        valid = [s for s in scores if s is not None]
        metrics["judge_score_0_5"] = float(np.mean(valid)) if valid else None
        metrics["judge_unparsed"] = len(scores) - len(valid)
    return metrics


def ask(run_dir: Path, prepared: Path, ad_id: str, question: str, shot: int | None, lm_cfg) -> str:
    """Answer one question about a prepared ad with a trained language-stage run."""
    model, tokenizer, meta = load_lm_run(run_dir)
    bank = load_shot_bank(prepared / "features.parquet")
    missing = [n for n in meta["feature_names"] if n not in bank.feature_names]
    if missing:
        raise DataError(
            f"{prepared}/features.parquet lacks features the LM was trained on: {missing[:5]}"
        )
    # re-standardise with the training statistics stored in the run
    raw = {ad: x * bank.std + bank.mean for ad, x in bank.features.items()}
    idx = [bank.feature_names.index(n) for n in meta["feature_names"]]
    feats = {
        ad: ((x[:, idx] - meta["feature_mean"]) / meta["feature_std"]).astype(np.float32)
        for ad, x in raw.items()
    }
    run_bank = ShotBank(feats, meta["feature_names"], meta["feature_mean"], meta["feature_std"])
    rec = {"ad_id": ad_id, "question": question, "shot": shot, "answer": ""}
    return generate_answers(model, tokenizer, run_bank, [rec], lm_cfg)[0]
