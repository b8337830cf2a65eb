"""``python -m mlp.bench``: the same as ``python -m mlp bench``."""

import sys

from mlp.__main__ import main

sys.exit(main(["bench", *sys.argv[1:]]))
