"""The command-line tools: ``python -m mlp train`` and ``python -m mlp predict``."""
