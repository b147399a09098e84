"""ShapeWorld data for Fact-RLHF: reward-model pairs labelled by ground truth, facts, and PPO prompts.

Candidates per scene: the reference description, object-level corruptions of it (a shape swapped for an absent
one, an absent object added, an object dropped) and, optionally, answers sampled from a model. A pair's
chosen answer hallucinates fewer objects; ties go to the higher recall; full ties are skipped. The facts are
the ground truth, one sentence per object.

    lightning-csr shapeworld rm-pairs --data data/shapeworld --out data/shapeworld/rlhf
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

import torch

from lightning_csr.data.records import PreferenceRecord, atomic_write_text, write_records
from lightning_csr.shapeworld import Scene, WorldSettings, describe, mentioned_shapes, position_phrase
from lightning_csr.shapeworld.build.sft_data import image_path
from lightning_csr.shapeworld.world.files import read_scenes
from lightning_csr.shapeworld.world.scene import SceneObject
from lightning_csr.shapeworld.world.tasks import DESCRIPTION_PROMPTS, object_phrase


def scene_facts(scene: Scene, world: WorldSettings) -> list[str]:
    """Ground-truth facts: one sentence per object ("There is a large red star in the top left.")."""
    return [f"There is a {object_phrase(o)} {position_phrase(o.cell, world.grid)}." for o in scene.objects]


def _with_objects(scene: Scene, objects: Sequence[SceneObject]) -> Scene:
    return Scene(scene.id, tuple(sorted(objects, key=lambda o: o.cell)))


def corruptions(scene: Scene, world: WorldSettings, rng: random.Random) -> list[Scene]:
    """Scenes one object-level edit away: a shape swapped, an absent object added, an object dropped."""
    absent = [s for s in world.shapes if s not in scene.shapes]
    objects = list(scene.objects)
    edited: list[Scene] = []
    if absent:
        i = rng.randrange(len(objects))
        o = objects[i]
        swapped = SceneObject(rng.choice(absent), o.colour, o.size, o.cell, o.bbox)
        edited.append(_with_objects(scene, objects[:i] + [swapped] + objects[i + 1 :]))
        free = [
            (r, c)
            for r in range(world.grid)
            for c in range(world.grid)
            if (r, c) not in {o.cell for o in objects}
        ]
        if free:
            extra = SceneObject(
                rng.choice(absent),
                rng.choice(world.colours),
                rng.choice(world.sizes),
                rng.choice(free),
                (0, 0, 1, 1),
            )
            edited.append(_with_objects(scene, [*objects, extra]))
    if len(objects) > 1:
        i = rng.randrange(len(objects))
        edited.append(_with_objects(scene, objects[:i] + objects[i + 1 :]))
    return edited


def answer_quality(text: str, scene: Scene, world: WorldSettings) -> tuple[int, float]:
    """(−hallucinated objects, recall): larger is better, compared lexicographically."""
    mentioned = mentioned_shapes(text, world)
    truth = scene.shapes
    return -len(mentioned - truth), len(mentioned & truth) / max(len(truth), 1)


def scene_pairs(
    scene: Scene,
    world: WorldSettings,
    split: str,
    rng: random.Random,
    samples: Sequence[str] = (),
    n_pairs: int = 2,
) -> list[PreferenceRecord]:
    """Up to `n_pairs` labelled pairs among the scene's candidate answers (no full ties)."""
    candidates = [describe(scene, rng, world)] + [
        describe(s, rng, world) for s in corruptions(scene, world, rng)
    ]
    # a sampled answer can be empty (end-of-sequence first): not an answer a reward model should rank
    candidates = [text for text in dict.fromkeys([*candidates, *samples]) if text.strip()]
    prompt = DESCRIPTION_PROMPTS[rng.randrange(len(DESCRIPTION_PROMPTS))]
    options = [(a, b) for i, a in enumerate(candidates) for b in candidates[i + 1 :]]
    rng.shuffle(options)
    records = []
    for a, b in options:
        qa, qb = answer_quality(a, scene, world), answer_quality(b, scene, world)
        if qa == qb:
            continue
        chosen, rejected = (a, b) if qa > qb else (b, a)
        meta = {"facts": scene_facts(scene, world), "scene_id": scene.id}
        records.append(
            PreferenceRecord(
                f"{scene.id}-{len(records)}", image_path(split, scene.id), prompt, chosen, rejected, meta
            )
        )
        if len(records) == n_pairs:
            break
    return records


def sample_descriptions(
    model_dir: str, root: Path, split: str, scenes: Sequence[Scene], n: int
) -> dict[str, list[str]]:
    """`n` sampled descriptions per scene from a saved model (temperature 1)."""
    from lightning_csr.backbones import LlavaBackbone
    from lightning_csr.generation.rollouts import sample_responses, texts
    from lightning_csr.shapeworld.world.files import load_images

    backbone = LlavaBackbone(model_id=model_dir)
    model = backbone.load_model()
    images = load_images(root, split, list(scenes))
    out: dict[str, list[str]] = {s.id: [] for s in scenes}
    for _ in range(n):
        for start in range(0, len(scenes), 64):
            chunk = scenes[start : start + 64]
            rollout = sample_responses(
                model, backbone, images[start : start + 64], [DESCRIPTION_PROMPTS[0]] * len(chunk)
            )
            for scene, text in zip(chunk, texts(backbone, rollout), strict=True):
                out[scene.id].append(text)
    return out


def write_rm_data(
    root: str | Path,
    out: str | Path,
    n_train: int = 600,
    n_val: int = 200,
    model_dir: str | None = None,
    samples_per_scene: int = 2,
    seed: int = 0,
    pairs_per_scene: int = 4,
) -> dict[str, int]:
    """`<out>/train.jsonl` (prompt scenes, never used for SFT) and `<out>/val.jsonl` (val scenes)."""
    root, out = Path(root), Path(out)
    world = WorldSettings.load(root / "world.json")
    prompt_ids = [
        json.loads(line)["id"] for line in (root / "prompts" / "train.jsonl").read_text().splitlines() if line
    ]
    by_id = {s.id: s for s in read_scenes(root, "train")}
    splits = {
        "train": ("train", [by_id[i] for i in prompt_ids[:n_train]]),
        "val": ("val", read_scenes(root, "val")[:n_val]),
    }
    counts = {}
    for name, (split, scenes) in splits.items():
        rng = random.Random(f"rm-pairs:{seed}:{name}")
        # sampling uses the global generator, whose default seed is random per process
        torch.manual_seed(seed)
        samples = sample_descriptions(model_dir, root, split, scenes, samples_per_scene) if model_dir else {}
        records = [
            r
            for s in scenes
            for r in scene_pairs(s, world, split, rng, samples.get(s.id, ()), pairs_per_scene)
        ]
        write_records(out / f"{name}.jsonl", records)
        counts[name] = len(records)
    return counts


def write_ppo_prompts(root: str | Path, out: str | Path, skip: int = 0, limit: int | None = None) -> int:
    """PPO prompts (`prompts/train.jsonl` after the first `skip`) with their scenes' facts."""
    root = Path(root)
    world = WorldSettings.load(root / "world.json")
    by_id = {s.id: s for s in read_scenes(root, "train")}
    rows = [json.loads(line) for line in (root / "prompts" / "train.jsonl").read_text().splitlines() if line]
    rows = rows[skip : None if limit is None else skip + limit]
    lines = [json.dumps({**row, "facts": scene_facts(by_id[row["id"]], world)}) for row in rows]
    atomic_write_text(out, "\n".join(lines) + "\n")
    return len(lines)
