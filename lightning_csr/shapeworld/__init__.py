"""ShapeWorld: a synthetic world of coloured shapes where hallucination is measured exactly."""

from lightning_csr.shapeworld.world.parsing import mentioned_attributes, mentioned_shapes, parse_attribute
from lightning_csr.shapeworld.world.render import render_scene
from lightning_csr.shapeworld.world.sampling import generate_scenes, sample_scene, split_of
from lightning_csr.shapeworld.world.scene import Scene, SceneObject
from lightning_csr.shapeworld.world.settings import PALETTE, SHAPES, WorldSettings
from lightning_csr.shapeworld.world.tasks import (
    DESCRIPTION_PROMPTS,
    NO_TEMPLATE,
    POPE_SPLITS,
    POPE_TEMPLATE,
    YES_TEMPLATE,
    attribute_questions,
    co_occurrence_counts,
    describe,
    pope_questions,
    position_phrase,
    shape_counts,
    world_corpus,
)
from lightning_csr.shapeworld.world.tokenizer import (
    CHAT_TEMPLATE,
    ProcessorSpec,
    build_processor,
    llava_processor,
    processor_spec,
)

__all__ = [
    "CHAT_TEMPLATE",
    "DESCRIPTION_PROMPTS",
    "NO_TEMPLATE",
    "PALETTE",
    "POPE_SPLITS",
    "POPE_TEMPLATE",
    "SHAPES",
    "YES_TEMPLATE",
    "ProcessorSpec",
    "Scene",
    "SceneObject",
    "WorldSettings",
    "attribute_questions",
    "build_processor",
    "co_occurrence_counts",
    "describe",
    "generate_scenes",
    "llava_processor",
    "mentioned_attributes",
    "mentioned_shapes",
    "parse_attribute",
    "pope_questions",
    "position_phrase",
    "processor_spec",
    "render_scene",
    "sample_scene",
    "shape_counts",
    "split_of",
    "world_corpus",
]
