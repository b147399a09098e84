"""Records/s of the pre-flight check on N preference pairs with small distinct PNGs (cold, then cached).

python benchmarks/preflight_rate.py --records 10000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from PIL import Image

from lightning_csr.data.preflight import checked_records
from lightning_csr.data.records import pair_problems, parse_record


def write_data(root: Path, count: int, size: int) -> Path:
    (root / "images").mkdir(parents=True)
    lines = []
    for i in range(count):
        Image.new("RGB", (size, size), (i % 255, (7 * i) % 255, 90)).save(root / "images" / f"{i}.png")
        row = {"id": f"p{i}", "image": f"images/{i}.png", "prompt": "What is in the image?"}
        lines.append(json.dumps({**row, "chosen": f"a red square {i}", "rejected": "a blue circle"}))
    (root / "pairs.jsonl").write_text("\n".join(lines) + "\n")
    return root / "pairs.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=32, help="image side in pixels")
    parser.add_argument("--pixels", action="store_true", help="decode every pixel")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        pairs = write_data(Path(tmp), args.records, args.size)
        for label in ("cold", "cached"):
            start = time.perf_counter()
            checked = checked_records(pairs, parse_record, tmp, extra=pair_problems, pixels=args.pixels)
            seconds = time.perf_counter() - start
            assert len(checked.records) == args.records
            print(
                f"{label}: {args.records} records in {seconds:.2f} s = {args.records / seconds:,.0f} records/s"
            )


if __name__ == "__main__":
    main()
