"""The synthetic Video-SME study generator (`hmllm synth`): real file formats, known truth."""

from hmllm.synth.generate import generate_study

__all__ = ["generate_study"]
