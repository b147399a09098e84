"""Compare DPO, POVID, TPO and CSR on ShapeWorld: `python benchmarks/methods_shapeworld.py [--config ...]`.

Same as `lightning-csr compare`; prints the Markdown table and writes results.json, table.md, methods.png.
"""

from __future__ import annotations

import sys

from lightning_csr.shapeworld.commands.compare import main

if __name__ == "__main__":
    main(sys.argv[1:])
