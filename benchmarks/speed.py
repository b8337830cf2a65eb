"""How fast this machine trains and runs the network, against the course's targets.

    python -m benchmarks speed                  # about two minutes; three with PyTorch installed
    python -m benchmarks speed --quick          # fewer repeats and seeds, for a first look
    python -m benchmarks speed --json out.json --seeds 8 --repeats 5 --no-torch

It prints a table and writes the same figures, with every single run, to
``bench.json`` (or ``--json PATH``). Nothing here is asserted by a test:
timings belong to a machine, so they are printed, never checked in CI.

How to read the table
---------------------
Rows come in sections; each row is one figure measured several times: the
median, then the fastest and slowest run in brackets (``0.361 s
[0.352–0.377]``), then the target with ✓ (met) or ✗ (missed). The last
column, *load*, is how many cores **other** programs kept busy while the row
was measured (from ``/proc/stat``, Linux only). On a 2-core machine anything
above about 0.3 makes the figures pessimistic, the 2-thread ones most of
all: rerun when the machine is quiet.

The sections, each measured by its own module of ``benchmarks`` (whose
docstring says exactly what is timed):

* **Matrix products** (``products``): the core's peak, and the floor it puts
  under an epoch (27.3 GFLOP for 784-128-64-10 on 60,000 images).
* **One epoch** (``training``): 784-128-64-10, Adam, batch 128, 1 and 2
  threads; ``FusedAdam`` against PyTorch's Adam on the same weights and
  batches (``torch_twin``), plain ``Adam`` and an in-place weight gradient for
  comparison; how ``best_thread_count`` chose.
* **Without OPENBLAS_CORETYPE** (``own_kernel``), when the variable forces a kernel.
* **Time to 98 %** (``time_to_98``): load, train and test a short recipe, several seeds.
* **Inference** (``inference``): ``predict_proba`` on one image against bare
  NumPy, on the test set, and behind the dashboard's preprocessing.

How the thread count is chosen
------------------------------
``fit(threads=None)`` asks ``mlp.training.threads.best_thread_count(sizes, batch_size,
dtype)``. It times the matrix products of one training step of *these*
shapes at 1, 2, … cores, in bursts of about 10 ms, the counts taking turns
for 3 rounds, and keeps each count's median; more threads must be at least
10 % faster to be chosen. The answer is cached for the process. The table
shows its pick beside the measured epoch times at each thread count: ✓ when
the epoch at the picked count is within 5 % of the fastest. Two threads pay
off only when both cores are free: a product split across a core that
another program holds waits for it, and an epoch can then take 10 to 50
times as long. If you share the machine, pass ``threads=1``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks.inference import measure_inference, measure_shipped_accuracy
from benchmarks.machine import describe, machine_info, other_load
from benchmarks.own_kernel import measure_own_kernel, probe
from benchmarks.products import epoch_flops, measure_products
from benchmarks.report import Report
from benchmarks.time_to_98 import measure_time_to_98
from benchmarks.torch_twin import torch_version
from benchmarks.training import SIZES, measure_training
from mlp.training.data import load_mnist

# Other modules (the classroom and teaching benchmarks, notebook 06) import these from here.
__all__ = ["describe", "epoch_flops", "machine_info", "main", "other_load", "run"]


def run(repeats: int, seeds: int, with_torch: bool) -> Report:
    machine = machine_info()
    machine["torch"] = torch_version() if with_torch else None
    report = Report(machine)
    print(describe(machine), file=sys.stderr, flush=True)
    (x, y), (x_test, y_test) = load_mnist()
    peak = measure_products(report, SIZES, len(x), repeats)
    measure_training(report, x, y, repeats, peak, with_torch=machine["torch"] is not None)
    measure_own_kernel(report, len(x), max(3, repeats - 2))
    measure_time_to_98(report, seeds)
    measure_inference(report, x_test, repeats)
    measure_shipped_accuracy(report, x_test, y_test)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats and 3 seeds instead of 5 and 8")
    parser.add_argument("--repeats", type=int, default=None, help="runs per timing (default 5)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds for the time to 98 %% (default 8)")
    parser.add_argument("--no-torch", action="store_true", help="skip PyTorch even if it is installed")
    parser.add_argument(
        "--json",
        type=Path,
        default=Path("bench.json"),
        help="where to write the figures (default bench.json)",
    )
    parser.add_argument("--probe", type=int, default=None, help=argparse.SUPPRESS)  # see own_kernel
    args = parser.parse_args(argv)
    if args.probe is not None:
        print(json.dumps(probe(args.probe)))
        return 0
    repeats = args.repeats or (3 if args.quick else 5)
    seeds = args.seeds or (3 if args.quick else 8)
    if repeats < 1 or seeds < 1:
        parser.error("--repeats and --seeds must be at least 1")

    start = time.perf_counter()
    report = run(repeats, seeds, with_torch=not args.no_torch)
    report.machine["bench_seconds"] = round(time.perf_counter() - start, 1)
    print(describe(report.machine))
    print(f"{repeats} runs per timing · {seeds} seeds · {report.machine['bench_seconds']:.0f} s in all\n")
    print(report.table())
    print()
    for note in report.notes:
        print(f"· {note}")
    args.json.write_text(json.dumps(report.as_dict(), indent=1, ensure_ascii=False) + "\n")
    print(f"· figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
