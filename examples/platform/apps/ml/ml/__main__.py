"""Fit the price model on JSON rows [area_m2, rooms, price]; print the model as JSON."""

import json
import sys
from dataclasses import asdict
from typing import TextIO

from ml.estimator import fit


def main(source: TextIO, out: TextIO) -> int:
    rows = [(float(a), int(r), float(p)) for a, r, p in json.load(source)]
    json.dump(asdict(fit(rows)), out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.stdin, sys.stdout))
