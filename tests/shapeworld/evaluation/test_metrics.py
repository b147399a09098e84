"""ShapeWorld evaluation plumbing on a tiny untrained LLaVA: generation, suppression, metric wiring."""

from __future__ import annotations

import pytest
import torch

from lightning_csr.backbones import LlavaBackbone
from lightning_csr.generation.greedy import generate_answers, suppressed_token_ids
from lightning_csr.shapeworld import (
    WorldSettings,
    build_processor,
    generate_scenes,
    processor_spec,
    world_corpus,
)
from lightning_csr.shapeworld.evaluation.metrics import (
    evaluate_shapeworld,
    score_outputs,
    shapeworld_questions,
)
from lightning_csr.shapeworld.models.clip import CLIPSettings
from lightning_csr.shapeworld.models.vlm import VLMSettings, base_vlm_config

TINY = VLMSettings(text_hidden=64, text_intermediate=128, text_layers=1, text_heads=2)
TINY_VISION = CLIPSettings(
    patch_size=8, vision_hidden=32, vision_intermediate=64, vision_layers=1, heads=2, projection_dim=32
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    world = WorldSettings()
    scenes = generate_scenes(world, 3, seed=0, split="test")
    out = tmp_path_factory.mktemp("processor")
    spec = processor_spec(build_processor(world, world_corpus(world, generate_scenes(world, 20)), out))
    torch.manual_seed(0)
    backbone = LlavaBackbone(config=base_vlm_config(spec, TINY, TINY_VISION), processor_id=str(out))
    return world, scenes, backbone, backbone.load_model().eval()


def test_evaluate_returns_metrics_and_per_scene_outputs(setup) -> None:
    world, scenes, backbone, model = setup
    result = evaluate_shapeworld(
        model, backbone, world, scenes, batch_size=4, max_new_tokens=6, answer_tokens=4
    )
    metrics, outputs = result["metrics"], result["scenes"]
    for key in (
        "chair_s",
        "chair_i",
        "recall",
        "pope/random/f1",
        "pope/adversarial/f1",
        "attribute/attribute_error",
    ):
        assert 0.0 <= metrics[key] <= 1.0, key
    pope, attributes = shapeworld_questions(world, scenes)
    assert metrics["pope/all/n"] == len(pope)
    assert [o["id"] for o in outputs] == [s.id for s in scenes]
    assert sum(len(o["pope"]) for o in outputs) == len(pope)
    assert sum(len(o["attributes"]) for o in outputs) == len(attributes)
    assert all(o["truth"] == sorted(s.shapes) for o, s in zip(outputs, scenes, strict=True))
    assert metrics["n_captions"] == len(scenes)


def test_generation_never_emits_suppressed_tokens(setup) -> None:
    world, scenes, backbone, model = setup
    suppressed = suppressed_token_ids(model, backbone)
    tokenizer = backbone.tokenizer
    assert backbone.image_token_id in suppressed and tokenizer.pad_token_id in suppressed
    assert backbone.end_of_turn_id not in suppressed
    assert set(range(len(tokenizer), model.get_output_embeddings().weight.shape[0])) <= set(suppressed)
    # make the image token overwhelmingly likely: generation must still avoid it
    with torch.no_grad():
        model.get_output_embeddings().weight[backbone.image_token_id] *= 0
        model.get_output_embeddings().weight[backbone.image_token_id] += 5.0
    from lightning_csr.shapeworld import render_scene

    answers = generate_answers(
        model, backbone, [render_scene(scenes[0], world)] * 2, ["Describe this image."] * 2, max_new_tokens=5
    )
    assert len(answers) == 2 and all("<image>" not in a and "<pad>" not in a for a in answers)


def test_score_outputs_hand_made() -> None:
    outputs = [
        {
            "mentioned": ["star", "circle"],
            "truth": ["star"],
            "pope": [
                {"parsed": True, "label": True, "split": "random"},
                {"parsed": True, "label": False, "split": "random"},
            ],
            "attributes": [{"parsed": "red", "answer": "red"}],
        },
        {
            "mentioned": ["ring"],
            "truth": ["ring", "cross"],
            "pope": [],
            "attributes": [{"parsed": None, "answer": "blue"}],
        },
    ]
    metrics = score_outputs(outputs)
    assert metrics["chair_s"] == pytest.approx(0.5)
    assert metrics["chair_i"] == pytest.approx(1 / 3)
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["pope/random/accuracy"] == pytest.approx(0.5)
    assert metrics["attribute/attribute_error"] == pytest.approx(0.5)


def test_mismatched_images_are_an_error(setup) -> None:
    world, scenes, backbone, model = setup
    with pytest.raises(ValueError, match="scenes but"):
        evaluate_shapeworld(model, backbone, world, scenes, images=[], max_new_tokens=2)
