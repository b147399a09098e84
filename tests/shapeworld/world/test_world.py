"""WorldSettings validation and persistence, scene sampling, splits, priors and rendering."""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

import pytest

from lightning_csr.shapeworld import PALETTE, Scene, WorldSettings, generate_scenes, render_scene, split_of


def png_bytes(scene: Scene, world: WorldSettings) -> bytes:
    buffer = io.BytesIO()
    render_scene(scene, world).save(buffer, format="PNG")
    return buffer.getvalue()


def test_default_world_is_rich_enough(world: WorldSettings) -> None:
    assert len(world.shapes) >= 8 and len(world.colours) >= 6
    assert {"circle", "square", "triangle", "star", "cross", "ring", "bar", "diamond"} <= set(world.shapes)
    assert world.co_occurrence["star"] == {"circle": 0.5}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"max_objects": 10, "grid": 3}, "max_objects"),
        ({"shapes": ()}, "shapes"),
        ({"colours": ("red", "pink")}, "colours"),
        ({"min_objects": 3, "max_objects": 2}, "max_objects"),
        ({"placement": "spiral"}, "placement"),
        ({"background": "photo"}, "background"),
        ({"co_occurrence": {"star": {"blob": 0.5}}}, "co_occurrence"),
        ({"colour_preferences": {"star": {"yellow": 0.8, "red": 0.5}}}, "colour_preferences"),
        ({"shape_frequency": {"circle": 0.0}}, "shape_frequency"),
    ],
)
def test_invalid_config_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=f"WorldSettings.{field}"):
        WorldSettings(**kwargs)


def test_default_priors_follow_a_restricted_vocabulary() -> None:
    small = WorldSettings(
        shapes=("circle", "star", "bar"), colours=("red", "blue", "green", "cyan", "purple", "orange")
    )
    assert small.co_occurrence == {"star": {"circle": 0.5}}
    assert small.colour_preferences == {"bar": {"green": 0.6}}


def test_config_save_load_roundtrip(tmp_path: Path) -> None:
    world = WorldSettings(placement="free", background="textured", max_objects=5)
    path = tmp_path / "world.json"
    world.save(path)
    assert WorldSettings.load(path) == world
    assert [p.name for p in tmp_path.iterdir()] == ["world.json"]
    with pytest.raises(ValueError, match="unknown field"):
        WorldSettings.from_dict({**world.to_dict(), "colour": "red"})


def test_scene_roundtrip_through_json(scenes: list[Scene]) -> None:
    restored = [Scene.from_dict(json.loads(json.dumps(s.to_dict()))) for s in scenes]
    assert restored == scenes


def test_generation_is_deterministic(world: WorldSettings) -> None:
    first, second = generate_scenes(world, 8, seed=3), generate_scenes(world, 8, seed=3)
    assert first == second
    assert [png_bytes(s, world) for s in first] == [png_bytes(s, world) for s in second]
    assert generate_scenes(world, 8, seed=4) != first


def test_splits_never_share_scenes(world: WorldSettings) -> None:
    by_split = {split: generate_scenes(world, 150, seed=0, split=split) for split in ("train", "val", "test")}
    signatures = {split: {s.signature() for s in scenes} for split, scenes in by_split.items()}
    assert not signatures["train"] & signatures["val"]
    assert not signatures["train"] & signatures["test"]
    assert not signatures["val"] & signatures["test"]
    assert all(split_of(s) == "val" for s in by_split["val"])
    with pytest.raises(ValueError, match="split"):
        generate_scenes(world, 1, split="dev")


def test_grid_scenes_respect_the_layout(world: WorldSettings, scenes: list[Scene]) -> None:
    for scene in scenes:
        assert world.min_objects <= len(scene.objects) <= world.max_objects
        assert len({o.cell for o in scene.objects}) == len(scene.objects)
        for obj in scene.objects:
            left, top, right, bottom = obj.bbox
            row, col = obj.cell
            assert col * world.cell_size <= left < right <= (col + 1) * world.cell_size
            assert row * world.cell_size <= top < bottom <= (row + 1) * world.cell_size


def test_free_placement_does_not_overlap() -> None:
    world = WorldSettings(placement="free", max_objects=6)
    for scene in generate_scenes(world, 40, seed=1):
        boxes = [o.bbox for o in scene.objects]
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


@pytest.mark.parametrize("background", ["plain", "textured"])
def test_ground_truth_matches_pixels(background: str) -> None:
    world = WorldSettings(background=background, placement="free")
    for scene in generate_scenes(world, 20, seed=2):
        image = render_scene(scene, world)
        assert image.mode == "RGB" and image.size == (64, 64)
        pixels = image.load()
        for obj in scene.objects:
            left, top, right, bottom = obj.bbox
            inside = {pixels[x, y] for x in range(left, right) for y in range(top, bottom)}
            assert PALETTE[obj.colour] in inside, (scene.id, obj)
        covered = {
            (x, y)
            for o in scene.objects
            for x in range(o.bbox[0], o.bbox[2])
            for y in range(o.bbox[1], o.bbox[3])
        }
        outside = {pixels[x, y] for x in range(64) for y in range(64) if (x, y) not in covered}
        assert not outside & set(PALETTE.values())


def test_sampler_follows_language_priors(world: WorldSettings) -> None:
    scenes = generate_scenes(world, 1500, seed=0)
    strong = generate_scenes(WorldSettings(co_occurrence={"star": {"circle": 0.9}}), 1500, seed=0)
    with_star = [s for s in strong if "star" in s.shapes]
    assert sum("circle" in s.shapes for s in with_star) / len(with_star) > 0.85
    star_colours = Counter(o.colour for s in scenes for o in s.objects if o.shape == "star")
    assert star_colours["yellow"] / sum(star_colours.values()) > 0.7
    frequency = Counter(shape for s in scenes for shape in s.shapes)
    assert frequency.most_common(1)[0][0] == "circle"
