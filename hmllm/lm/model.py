"""Shot tokens → causal LM: a projector that prefixes an ad's shots to the question's tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hmllm.errors import ConfigError, DataError

SPECIAL_TOKENS = {"pad": "[PAD]", "unk": "[UNK]", "bos": "[BOS]", "eos": "[EOS]"}


def build_corpus_tokenizer(texts: list[str]):
    """Train a whitespace word-level tokenizer on the instruction corpus.

    Used when the LM is built from a config (no pretrained vocabulary exists offline). The
    templated Q&A has a small closed vocabulary, so a word-level vocabulary reproduces every
    answer exactly; a real pretrained LM brings its own tokenizer instead.
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token=SPECIAL_TOKENS["unk"]))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordLevelTrainer(special_tokens=list(SPECIAL_TOKENS.values()))
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=SPECIAL_TOKENS["pad"],
        unk_token=SPECIAL_TOKENS["unk"],
        bos_token=SPECIAL_TOKENS["bos"],
        eos_token=SPECIAL_TOKENS["eos"],
    )


def _load_pretrained(name_or_path: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        lm = AutoModelForCausalLM.from_pretrained(name_or_path)
    except OSError as exc:
        raise DataError(
            f"could not load the language model {name_or_path!r} ({exc}). hmllm never downloads "
            "at run time here: put the weights in a local folder (e.g. `huggingface-cli download` "
            "on a connected machine) and set lm.model.name_or_path=/path/to/that/folder."
        ) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return lm, tokenizer


def _from_config(spec: dict[str, Any], vocab_size: int):
    from transformers import AutoConfig, AutoModelForCausalLM

    spec = dict(spec)
    model_type = spec.pop("model_type", None)
    if model_type is None:
        raise ConfigError("lm.model.from_config needs a model_type (e.g. llama, gpt2)")
    try:
        config = AutoConfig.for_model(model_type, vocab_size=vocab_size, **spec)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"lm.model.from_config is not a valid {model_type} config: {exc}"
        ) from None
    return AutoModelForCausalLM.from_config(config)


class ShotPrefixLM(nn.Module):
    """A causal LM whose input starts with projected shot tokens.

    Parameters
    ----------
    lm
        Any HF causal LM (optionally wrapped by peft).
    feature_dim
        Number of shot features per shot.
    tokens_per_shot
        LM tokens each shot is projected into (the paper's Q-Former uses 32–96 per video).
    max_shots
        Longest ad (in shots) the position table covers; longer ads are truncated.
    """

    def __init__(self, lm: nn.Module, feature_dim: int, tokens_per_shot: int, max_shots: int):
        super().__init__()
        self.lm = lm
        hidden = lm.get_input_embeddings().embedding_dim
        self.tokens_per_shot = tokens_per_shot
        self.max_shots = max_shots
        self.hidden = hidden
        self.projector = nn.Sequential(
            nn.Linear(feature_dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden * tokens_per_shot),
        )
        self.shot_pos = nn.Embedding(max_shots, hidden)
        # marks the shot a question is about ("... after this shot?"), added to its tokens
        self.focus = nn.Parameter(torch.zeros(hidden))

    def prefix(
        self, feats: torch.Tensor, shot_mask: torch.Tensor, focus: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Project ``feats`` (B, S, F) into prefix embeddings (B, S*T, H) and their mask.

        ``focus`` (B, S) is 1 for the shot the question asks about (all zeros for whole-ad ones).
        """
        b, s, _ = feats.shape
        tok = self.projector(feats).view(b, s, self.tokens_per_shot, self.hidden)  # (B, S, T, H)
        pos = self.shot_pos(torch.arange(s, device=feats.device))[None, :, None, :]
        tok = tok + pos + focus[:, :, None, None].to(tok.dtype) * self.focus
        tok = tok.reshape(b, s * self.tokens_per_shot, self.hidden)  # (B, S*T, H)
        mask = shot_mask.repeat_interleave(self.tokens_per_shot, dim=1)  # (B, S*T)
        return tok, mask

    def embed(self, feats, shot_mask, focus, input_ids, attention_mask):
        """Concatenate prefix and token embeddings: returns (B, S*T + L, H) and its mask."""
        pre, pre_mask = self.prefix(feats, shot_mask, focus)
        tok = self.lm.get_input_embeddings()(input_ids)  # (B, L, H)
        emb = torch.cat([pre.to(tok.dtype), tok], dim=1)
        mask = torch.cat([pre_mask.to(attention_mask.dtype), attention_mask], dim=1)
        return emb, mask

    def forward(self, feats, shot_mask, focus, input_ids, attention_mask, labels=None):
        """Language-model loss on ``labels`` (-100 where no loss), prefix positions excluded."""
        emb, mask = self.embed(feats, shot_mask, focus, input_ids, attention_mask)
        if labels is not None:
            ignore = torch.full(
                (labels.shape[0], emb.shape[1] - labels.shape[1]), -100, dtype=labels.dtype
            )
            labels = torch.cat([ignore.to(labels.device), labels], dim=1)
        return self.lm(inputs_embeds=emb, attention_mask=mask, labels=labels)

    @torch.no_grad()
    def generate(self, feats, shot_mask, focus, input_ids, attention_mask, max_new_tokens, eos_id):
        """Greedy decoding after the prefix + prompt; returns new token ids (B, <=max_new)."""
        emb, mask = self.embed(feats, shot_mask, focus, input_ids, attention_mask)
        return self.lm.generate(
            inputs_embeds=emb,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=eos_id,
            pad_token_id=eos_id,
        )


def _apply_lora(lm: nn.Module, lora: dict[str, Any]) -> nn.Module:
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise ConfigError(
            "lm.lora.enabled=true needs peft: `pip install -e .[lm]` (scripts/setup.sh does)"
        ) from None
    cfg = LoraConfig(
        r=int(lora["r"]),
        lora_alpha=int(lora["alpha"]),
        lora_dropout=float(lora["dropout"]),
        target_modules=list(lora["target_modules"]),
        task_type="CAUSAL_LM",
    )
    try:
        return get_peft_model(lm, cfg)
    except ValueError as exc:
        raise ConfigError(f"lm.lora.target_modules do not match the model: {exc}") from None


def build_lm(lm_cfg: dict[str, Any], feature_dim: int, corpus: list[str]):
    """Build the prefix LM and its tokenizer from the ``lm`` config.

    ``lm.model.name_or_path`` loads a pretrained LM (hub id or local folder, real weights);
    otherwise ``lm.model.from_config`` builds a randomly initialised one (tests, tiny runs) with a
    word-level tokenizer trained on ``corpus``.
    """
    model_cfg = lm_cfg["model"]
    name = model_cfg.get("name_or_path")
    if name:
        lm, tokenizer = _load_pretrained(str(name))
    elif model_cfg.get("from_config"):
        tokenizer = build_corpus_tokenizer(corpus)
        lm = _from_config(dict(model_cfg["from_config"]), vocab_size=len(tokenizer))
    else:
        raise ConfigError("set lm.model.name_or_path (pretrained) or lm.model.from_config (random)")
    if lm_cfg.get("lora", {}).get("enabled"):
        lm = _apply_lora(lm, lm_cfg["lora"])
    model = ShotPrefixLM(lm, feature_dim, int(lm_cfg["tokens_per_shot"]), int(lm_cfg["max_shots"]))
    return model, tokenizer


def save_lm_run(out_dir: Path, model: ShotPrefixLM, tokenizer, meta: dict[str, Any]) -> Path:
    """Write a language-stage run: ``lm/`` (HF format), ``tokenizer/``, ``projector.pt``, meta."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.lm.save_pretrained(out_dir / "lm")
    tokenizer.save_pretrained(out_dir / "tokenizer")
    state = {
        "projector": model.projector.state_dict(),
        "shot_pos": model.shot_pos.state_dict(),
        "focus": model.focus.detach().clone(),
        "feature_mean": torch.from_numpy(np.asarray(meta["feature_mean"], np.float32)),
        "feature_std": torch.from_numpy(np.asarray(meta["feature_std"], np.float32)),
    }
    torch.save(state, out_dir / "projector.pt")
    plain = {k: v for k, v in meta.items() if k not in ("feature_mean", "feature_std")}
    (out_dir / "meta.json").write_text(json.dumps(plain, indent=2, sort_keys=True))
    return out_dir


def load_lm_run(run_dir: Path):
    """Load a run written by :func:`save_lm_run`; the projector loads with ``weights_only=True``.

    Returns
    -------
    model, tokenizer, meta
        ``meta`` includes ``feature_names`` and the standardisation ``feature_mean``/``std``.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    run_dir = Path(run_dir)
    if not (run_dir / "meta.json").is_file():
        raise DataError(
            f"{run_dir} is not a language-stage run (no meta.json); train one with "
            "`hmllm lm mode=train`"
        )
    meta = json.loads((run_dir / "meta.json").read_text())
    tokenizer = AutoTokenizer.from_pretrained(run_dir / "tokenizer")
    lm_dir = run_dir / "lm"
    if (lm_dir / "adapter_config.json").is_file():
        from peft import PeftModel

        base = meta.get("base_model")
        if not base:
            raise DataError(f"{run_dir}: LoRA adapter without a recorded base model")
        lm = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), lm_dir)
    else:
        lm = AutoModelForCausalLM.from_pretrained(lm_dir)
    state = torch.load(run_dir / "projector.pt", map_location="cpu", weights_only=True)
    model = ShotPrefixLM(lm, len(meta["feature_names"]), meta["tokens_per_shot"], meta["max_shots"])
    model.projector.load_state_dict(state["projector"])
    model.shot_pos.load_state_dict(state["shot_pos"])
    with torch.no_grad():
        model.focus.copy_(state["focus"])
    meta["feature_mean"] = state["feature_mean"].numpy()
    meta["feature_std"] = state["feature_std"].numpy()
    model.eval()
    return model, tokenizer, meta
