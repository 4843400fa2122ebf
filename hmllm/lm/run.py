"""`hmllm lm`: train the language stage, evaluate it, or ask it a question from the command line.

Examples
--------
hmllm lm mode=train                       # tiny random LM on the demo study's instructions
hmllm lm mode=ask lm.ask.ad_id=ad003 lm.ask.shot=2 \
    "lm.ask.question='What is the cognitive engagement of women after this shot?'"
hmllm lm lm=vicuna7b lm.model.name_or_path=/models/vicuna-7b-v1.5   # paper recipe, GPU
"""

from __future__ import annotations

import json

from omegaconf import OmegaConf

from hmllm.errors import ConfigError
from hmllm.paths import resolve_path

MODES = ("train", "evaluate", "ask")


def run(cfg) -> None:
    """Dispatch on ``cfg.mode``."""
    mode = cfg.mode
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {MODES}, got {mode!r}")
    lm_cfg = OmegaConf.to_container(cfg.lm, resolve=True)
    if mode == "train":
        from hmllm.lm.train import train_lm

        metrics = train_lm(cfg)
        print(json.dumps({k: v for k, v in metrics.items() if k != "examples"}, indent=2))
        return
    run_dir = resolve_path(lm_cfg["run_dir"])
    prepared = resolve_path(cfg.paths.prepared)
    if mode == "ask":
        from hmllm.lm.train import ask

        a = lm_cfg["ask"]
        if not a.get("ad_id") or not a.get("question"):
            raise ConfigError("mode=ask needs lm.ask.ad_id=<ad> and lm.ask.question='...'")
        print(ask(run_dir, prepared, str(a["ad_id"]), str(a["question"]), a.get("shot"), lm_cfg))
        return
    from hmllm.lm.data import load_shot_bank
    from hmllm.lm.model import load_lm_run
    from hmllm.lm.train import _split_records, evaluate_examples

    model, tokenizer, meta = load_lm_run(run_dir)
    _, test = _split_records(prepared, 0, int(lm_cfg["eval"]["max_examples"]), meta["seed"])
    bank = load_shot_bank(prepared / "features.parquet", None)
    metrics = evaluate_examples(model, tokenizer, bank, test, lm_cfg)
    print(json.dumps({k: v for k, v in metrics.items() if k != "examples"}, indent=2))
