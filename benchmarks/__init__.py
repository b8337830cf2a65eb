"""Tooling, not the course: benchmarks that print how fast things run on this machine.

They run from a checkout, never from an installed package (``pip install``
gives a learner the course, not this folder)::

    python -m benchmarks speed       # training and inference, against the course's targets
    python -m benchmarks dashboard   # one dashboard page in a real browser
    python -m benchmarks classroom   # a class on one server: kernels, memory, many pages at once
    python -m benchmarks teach       # teaching the pad a handwriting: time, accuracy, forgetting
    python -m benchmarks pad         # what one visitor can cost the pad's kernel
    python -m benchmarks photos      # photos of handwritten digits against clean scans
    python -m benchmarks static-site # the static (Pyodide) dashboard in a browser, offline
    python -m benchmarks attacks     # one hostile visitor against a class: what the others still get

``benchmarks.drivers`` starts the dashboard's server and drives it in headless
Chromium as a user does, for these benchmarks and for the browser tests.
Figures come from these commands, never from timed tests.
"""
