"""Tooling, not the course: benchmarks that print how fast things run on this machine.

``python -m mlp bench`` (training and inference), ``bench-dashboard`` (one
page in a real browser), ``bench-classroom`` (a class on one server),
``bench-teach`` (teaching the pad) and ``bench-pad`` (what one visitor can
cost); ``voila_server``, ``pages`` and ``kernel_socket`` drive the dashboard
as a user does, for these benchmarks and for the browser tests. Figures
come from these commands, never from timed tests.
"""
