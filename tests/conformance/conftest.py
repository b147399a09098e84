"""The conformance tier: real processor files (`LIGHTNING_CSR_REAL_PROCESSORS`) with tiny random weights.

Every test here is marked `conformance` and skipped, with a one-line reason, when the folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image

from lightning_csr.backbones import Backbone, build_backbone
from tests.conformance.real_checkpoints import ENV_VAR, REAL_FAMILIES, real_processors_dir, tiny_real_vlm

HERE = Path(__file__).parent
# what the training tests give each adapter: one 512-pixel tile per SmolVLM image instead of up to 17
TRAINING_OPTIONS = {"idefics3": {"do_image_splitting": False}}


def pytest_collection_modifyitems(config, items) -> None:
    real = real_processors_dir()
    where = os.environ.get(ENV_VAR) or "../shared/real_processors"
    skip = pytest.mark.skip(reason=f"no real processor files at {where}: set {ENV_VAR} to their folder")
    for item in items:
        if HERE in Path(item.fspath).parents:
            item.add_marker(pytest.mark.conformance)
            if real is None:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def real_dir() -> Path:
    return real_processors_dir()


@pytest.fixture(scope="session")
def real_checkpoint(real_dir, tmp_path_factory):
    """family -> checkpoint directory (built once per session, on first use)."""
    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in built:
            built[family] = tiny_real_vlm(family, real_dir, tmp_path_factory.mktemp(f"real_{family}"))
        return built[family]

    return get


@pytest.fixture(scope="module", params=list(REAL_FAMILIES))
def family(request, real_checkpoint) -> tuple[str, Path]:
    """(family name, checkpoint directory with the real processor files)."""
    return request.param, real_checkpoint(request.param)


def real_backbone(family: tuple[str, Path], training: bool = False, **kwargs) -> Backbone:
    name, directory = family
    options = TRAINING_OPTIONS.get(name, {}) if training else {}
    return build_backbone(REAL_FAMILIES[name][1], model_id=str(directory), **options, **kwargs)


def images(n: int, size: tuple[int, int] = (32, 32)) -> list[Image.Image]:
    colours = ["red", "blue", "green", "yellow"]
    return [Image.new("RGB", size, colours[i % len(colours)]) for i in range(n)]


@pytest.fixture(scope="session")
def real_clip_dir(real_dir, tmp_path_factory) -> Path:
    """A tiny random CLIP of the real CLIP ViT-L/14-336 geometry with its real processor files."""
    from tests.conformance.real_checkpoints import tiny_real_clip

    return tiny_real_clip(real_dir, tmp_path_factory.mktemp("real_clip"))
