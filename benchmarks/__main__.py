"""``python -m benchmarks COMMAND``: one benchmark per module, run from a checkout.

``python -m benchmarks COMMAND --help`` explains each one.
"""

from __future__ import annotations

import importlib
import sys

# name -> (module with a ``main(argv) -> int``, what it measures)
COMMANDS: dict[str, tuple[str, str]] = {
    "speed": ("benchmarks.speed", "how fast training and inference run on this machine"),
    "dashboard": ("benchmarks.dashboard", "the dashboard in a real browser: latency, many pages"),
    "classroom": ("benchmarks.classroom", "a class on one server: kernels, memory, many pages at once"),
    "teach": ("benchmarks.teach", "teaching the pad a handwriting: time, accuracy, forgetting"),
    "pad": ("benchmarks.pad", "what one visitor can cost the pad's kernel, and what teaching adds"),
    "static-site": ("benchmarks.static_site", "the static (Pyodide) dashboard in a browser, offline"),
    "attacks": ("benchmarks.attacks", "one hostile visitor against a class: what the others still get"),
    "photos": ("benchmarks.photos", "photos of handwritten digits against clean scans, before and now"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "usage: python -m benchmarks COMMAND [--help] [ARGUMENTS]\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"python -m benchmarks: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return int(module.main(rest) or 0)
    except SystemExit as done:  # argparse's --help and its errors keep their status
        return done.code if isinstance(done.code, int) else int(done.code is not None)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
