"""Tooling, not the course: benchmarks that print how fast things run on this machine.

``python -m mlp bench`` (training and inference speed: ``speed`` and the
modules it names) and ``python -m mlp bench-dashboard`` (the dashboard in a
real browser). Figures come from these commands, never from timed tests.
"""
