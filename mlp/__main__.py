"""``python -m mlp COMMAND``: the package's command-line tools, one module each.

    python -m mlp train               # train a model (the shipped recipe by default)
    python -m mlp predict DIGIT.png   # read a digit from an image file

``python -m mlp COMMAND --help`` explains each one. The benchmarks are tooling, not the
course: they run from a checkout, as ``python -m benchmarks``.
"""

from __future__ import annotations

import importlib
import os
import sys

# name -> (module with a ``main(argv) -> int``, what it does)
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("mlp.cli.train", "train a model on MNIST (the shipped recipe by default)"),
    "predict": ("mlp.cli.predict", "read the digit in a PNG or JPEG file"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "usage: python -m mlp COMMAND [--help] [ARGUMENTS]\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status. A reader that goes away (``| head``) ends it quietly."""
    try:
        status = run(sys.argv[1:] if argv is None else argv)
        sys.stdout.flush()  # a closed pipe shows up here, inside the try, rather than at exit
        return status
    except BrokenPipeError:
        # The reader went away (`python -m mlp train --help | head -2`): stop quietly, as cat does.
        # Point stdout at /dev/null so that Python's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def run(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"python -m mlp: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return int(module.main(rest) or 0)
    except SystemExit as done:  # argparse's --help and its errors: keep their status, and flush above
        return done.code if isinstance(done.code, int) else int(done.code is not None)


if __name__ == "__main__":
    sys.exit(main())
