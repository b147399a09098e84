"""`lightning-csr export-pairs`: preference pairs as a Hugging Face dataset with the images embedded."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from lightning_csr.data.hf_datasets import is_dataset_source
from lightning_csr.data.hf_export import write_pairs_dataset
from lightning_csr.data.records import read_records


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lightning-csr export-pairs", description=__doc__)
    p.add_argument(
        "pairs",
        help="a preference file (.jsonl, .json), a directory holding pairs.jsonl (a CSR iteration) or a dataset",
    )
    p.add_argument("--out", required=True, help="dataset directory to write (replaced if it exists)")
    p.add_argument(
        "--image-root",
        help="directory the pairs' image paths are relative to (default: the pairs file's directory; a CSR "
        "iteration's are relative to the regeneration callback's image_root)",
    )
    return p


def main(argv: Sequence[str]) -> Path:
    """Write preference pairs as a Hugging Face dataset with the images embedded (TRL's vision layout)."""
    args = parser().parse_args(argv)
    pairs = Path(args.pairs)
    if pairs.is_dir() and not is_dataset_source(pairs):
        pairs = pairs / "pairs.jsonl"
    records = read_records(pairs).records
    out = write_pairs_dataset(records, args.image_root or pairs.parent, args.out)
    print(f"{out}: {len(records)} pairs with their images (load with datasets.load_from_disk)")
    return out
