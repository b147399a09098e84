"""Print how often a ShapeWorld base model names an absent co-occurrence partner (the README's prior counts).

Usage: `python benchmarks/shapeworld_prior_counts.py --data data/shapeworld` (reads `metrics/base_outputs.jsonl`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lightning_csr.shapeworld import WorldSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="data/shapeworld")
    args = parser.parse_args()
    root = Path(args.data)
    partners_of = WorldSettings.load(root / "world.json").co_occurrence
    rows = [json.loads(line) for line in (root / "metrics" / "base_outputs.jsonl").open()]
    missing = named = other = 0
    for row in rows:
        truth, hallucinated = set(row["truth"]), set(row["hallucinated"])
        absent_partners = {p for shape in truth for p in partners_of.get(shape, {})} - truth
        missing += bool(absent_partners)
        named += bool(hallucinated & absent_partners)
        other += bool(hallucinated - absent_partners)
    print(
        f"{len(rows)} test scenes; {missing} with an absent partner, named in {named}; other errors in {other}"
    )


if __name__ == "__main__":
    main()
