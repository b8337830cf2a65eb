"""What the notebooks call so that a lesson shows one line, not thirty: figures and timing tables.

Plotting and timing code is not what a lesson teaches, but a reader should
still be able to read it: each module here is small, documented and tested.
Importing this package imports nothing heavy; each module imports matplotlib
itself.
"""
