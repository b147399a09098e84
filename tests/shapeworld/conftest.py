"""Shared ShapeWorld fixtures: a default world, a few scenes, a saved processor and a tiny prepared world."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoProcessor, LlavaProcessor

from lightning_csr.cli import main
from lightning_csr.shapeworld import Scene, WorldSettings, build_processor, generate_scenes, world_corpus
from lightning_csr.shapeworld.build.prepare import prepare
from lightning_csr.shapeworld.build.settings import tiny_settings


@pytest.fixture(scope="session")
def world() -> WorldSettings:
    """The default world."""
    return WorldSettings()


@pytest.fixture(scope="session")
def scenes(world: WorldSettings) -> list[Scene]:
    """Fifty training scenes."""
    return generate_scenes(world, 50, seed=0, split="train")


@pytest.fixture(scope="session")
def processor_dir(
    world: WorldSettings, scenes: list[Scene], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A processor saved once per session."""
    out_dir = tmp_path_factory.mktemp("shapeworld_processor")
    build_processor(world, world_corpus(world, scenes), out_dir)
    return out_dir


@pytest.fixture(scope="session")
def processor(processor_dir: Path) -> LlavaProcessor:
    """The saved processor, loaded back."""
    return AutoProcessor.from_pretrained(str(processor_dir))


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A tiny world built by the CLI with one stage worker, and the result of preparing it again."""
    out = tmp_path_factory.mktemp("shapeworld") / "data"
    main(["shapeworld", "prepare", "--out", str(out), "--scale", "tiny", "--quiet", "--threads", "1"])
    return out, prepare(out, tiny_settings())
