"""``python -m hmllm`` runs the ``hmllm`` command (also what ``torchrun -m hmllm`` launches)."""

from hmllm.cli import main

main()
