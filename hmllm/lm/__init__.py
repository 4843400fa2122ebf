"""The language stage: a causal LM that reads projected shot tokens and answers questions about an ad.

The paper's second stage feeds visual tokens into Vicuna-7B and instruction-tunes it with LoRA on
templated subjective questions ("What is the cognitive engagement of a woman aged 26–30 after this
shot?") and open-ended objective ones. Here the visual tokens are the shot features of
``prepared/features.parquet`` projected into the LM's embedding space (one or more tokens per shot).
"""

from hmllm.lm.model import ShotPrefixLM, build_lm, load_lm_run, save_lm_run

__all__ = ["ShotPrefixLM", "build_lm", "load_lm_run", "save_lm_run"]
