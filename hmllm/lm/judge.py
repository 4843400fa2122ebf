"""LLM-as-judge scoring of open-ended answers, in the Video-ChatGPT style the paper follows.

A judge LM reads the question, the reference answer and the predicted answer and gives an integer
score from 0 to 5 for correctness of information. Any HF causal LM (local path or hub id available
offline) can be the judge; unparseable replies are counted, not guessed.
"""

from __future__ import annotations

import re

import torch

from hmllm.errors import DataError

JUDGE_PROMPT = (
    "You evaluate answers about video ads. Compare the predicted answer with the correct answer "
    "and rate how correct the predicted answer's information is, as an integer from 0 (wrong) to "
    "5 (fully correct). Reply with the number only.\n"
    "Question: {question}\nCorrect answer: {reference}\nPredicted answer: {prediction}\nScore:"
)


def parse_score(text: str) -> int | None:
    """First integer 0–5 in the judge's reply, or ``None`` when there is none."""
    m = re.search(r"\b([0-5])\b", text)
    return int(m.group(1)) if m else None


@torch.no_grad()
def judge_scores(
    judge: str, questions: list[str], references: list[str], predictions: list[str]
) -> list[int | None]:
    """Score each prediction 0–5 with the judge LM ``judge`` (greedy, 4 new tokens)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(judge)
        lm = AutoModelForCausalLM.from_pretrained(judge)
    except OSError as exc:
        raise DataError(f"judge model {judge!r} could not be loaded locally ({exc})") from None
    lm.eval()
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    scores = []
    for q, r, p in zip(questions, references, predictions, strict=True):
        enc = tok(JUDGE_PROMPT.format(question=q, reference=r, prediction=p), return_tensors="pt")
        out = lm.generate(**enc, max_new_tokens=4, do_sample=False, pad_token_id=pad)
        scores.append(parse_score(tok.decode(out[0, enc["input_ids"].shape[1] :])))
    return scores
