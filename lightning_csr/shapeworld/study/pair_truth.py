"""How often a preference pair is right by ShapeWorld's exact counts: the reward accuracy of self-rewarding.

A pair is right when its chosen answer names fewer absent shapes than its rejected one, or as many and misses
fewer present ones; wrong when the reverse holds; a tie otherwise. Counted over shapes (CHAIR_I's unit).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from lightning_csr.shapeworld.world.parsing import mentioned_shapes
from lightning_csr.shapeworld.world.scene import Scene
from lightning_csr.shapeworld.world.settings import WorldSettings


def answer_errors(text: str, scene: Scene, world: WorldSettings) -> tuple[int, int]:
    """(absent shapes named, present shapes not named) of one answer."""
    named = mentioned_shapes(text, world)
    return len(named - scene.shapes), len(scene.shapes - named)


def pair_verdict(chosen: tuple[int, int], rejected: tuple[int, int]) -> int:
    """+1 when the chosen answer is truly better, -1 when worse, 0 for a tie (hallucinations first)."""
    return (chosen < rejected) - (chosen > rejected)


# per-pair columns: chosen hallucinates less, more, the pair is right, wrong (by `pair_verdict`)
PAIR_COLUMNS = ("chosen_hallucinates_less", "chosen_hallucinates_more", "right", "wrong")


def pair_rows(pairs_file: str | Path, scenes: Mapping[str, Scene], world: WorldSettings) -> np.ndarray:
    """[pairs, 4] 0/1 table of PAIR_COLUMNS; a record whose id is not a known scene is an error naming the line."""
    rows = []
    for number, line in enumerate(Path(pairs_file).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        record = json.loads(line)
        scene = scenes.get(record["id"])
        if scene is None:
            raise ValueError(f"{pairs_file}:{number}: id {record['id']!r} is not a scene of this world")
        chosen = answer_errors(record["chosen"], scene, world)
        rejected = answer_errors(record["rejected"], scene, world)
        verdict = pair_verdict(chosen, rejected)
        rows.append((chosen[0] < rejected[0], chosen[0] > rejected[0], verdict == 1, verdict == -1))
    if not rows:
        raise ValueError(f"{pairs_file}: no pairs")
    return np.asarray(rows, dtype=int)


def pair_truth(pairs_file: str | Path, scenes: Mapping[str, Scene], world: WorldSettings) -> dict[str, float]:
    """Shares of right, wrong and tied pairs in a pairs file, and of pairs whose chosen answer hallucinates
    less / more than the rejected one."""
    rows = pair_rows(pairs_file, scenes, world)
    shares = dict(zip(PAIR_COLUMNS, (float(x) for x in rows.mean(axis=0)), strict=True))
    return {
        "pairs": len(rows),
        "right": shares["right"],
        "wrong": shares["wrong"],
        "tied": 1.0 - shares["right"] - shares["wrong"],
        "chosen_hallucinates_less": shares["chosen_hallucinates_less"],
        "chosen_hallucinates_more": shares["chosen_hallucinates_more"],
    }
