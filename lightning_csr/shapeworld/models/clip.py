"""The tiny ShapeWorld CLIP: processor, config, contrastive training on single-object sentences, ROC-AUC."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from tokenizers import Tokenizer, processors
from torchmetrics.functional.classification import binary_auroc
from transformers import (
    AutoProcessor,
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    CLIPProcessor,
    PreTrainedTokenizerFast,
)

from lightning_csr.shapeworld import Scene, SceneObject, WorldSettings
from lightning_csr.shapeworld.world.tokenizer import BOS, PAD, UNK

END_OF_TEXT = "<|endoftext|>"
PRESENCE_TEMPLATE = "There is a {shape} in the image."
_SENTENCES = ("There is a {phrase} in the image.", "The image shows a {phrase}.", "A {phrase}.")


@dataclass
class CLIPSettings:
    """Widths and depths of the tiny CLIP (patch size must divide the world's image size)."""

    patch_size: int = 16
    vision_hidden: int = 128
    vision_intermediate: int = 256
    vision_layers: int = 2
    text_hidden: int = 64
    text_intermediate: int = 128
    text_layers: int = 2
    heads: int = 4
    projection_dim: int = 64
    max_text_tokens: int = 32


@dataclass
class CLIPTrainingSettings:
    """How long and how hard the CLIP is trained."""

    max_steps: int = 400
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 0


def build_clip_processor(
    llava_tokenizer: PreTrainedTokenizerFast, world: WorldSettings, out_dir: str | Path
) -> CLIPProcessor:
    """The world's word-level vocabulary with an end-of-text token (highest id) appended, as a CLIPProcessor."""
    backend = Tokenizer.from_str(llava_tokenizer.backend_tokenizer.to_str())
    backend.add_special_tokens([END_OF_TEXT])
    backend.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A {END_OF_TEXT}",
        special_tokens=[(BOS, backend.token_to_id(BOS)), (END_OF_TEXT, backend.token_to_id(END_OF_TEXT))],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=END_OF_TEXT,
        unk_token=UNK,
        pad_token=PAD,
        model_max_length=32,
    )
    side = world.image_size
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": side}, crop_size={"height": side, "width": side}
    )
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(str(out_dir))
    return AutoProcessor.from_pretrained(str(out_dir))


def clip_config(
    processor: CLIPProcessor, world: WorldSettings, size: CLIPSettings | None = None
) -> CLIPConfig:
    """A CLIPConfig matching the processor's vocabulary and the world's image size."""
    size = size or CLIPSettings()
    tokenizer = processor.tokenizer
    text = {
        "vocab_size": len(tokenizer),
        "hidden_size": size.text_hidden,
        "intermediate_size": size.text_intermediate,
        "num_hidden_layers": size.text_layers,
        "num_attention_heads": size.heads,
        "max_position_embeddings": size.max_text_tokens,
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    vision = {
        "hidden_size": size.vision_hidden,
        "intermediate_size": size.vision_intermediate,
        "num_hidden_layers": size.vision_layers,
        "num_attention_heads": size.heads,
        "image_size": world.image_size,
        "patch_size": size.patch_size,
    }
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=size.projection_dim)


def object_sentence(obj: SceneObject, rng: random.Random) -> str:
    """A sentence naming one object with a random subset of its attributes."""
    words = [w for w, keep in ((obj.size, rng.random() < 0.4), (obj.colour, rng.random() < 0.6)) if keep]
    return rng.choice(_SENTENCES).format(phrase=" ".join([*words, obj.shape]))


def _matches(sentence_object: SceneObject, sentence: str, scene: Scene) -> bool:
    """Whether a scene holds an object fitting every attribute the sentence names about its object."""
    words = set(sentence.lower().rstrip(".").split())
    return any(
        o.shape == sentence_object.shape
        and (sentence_object.colour not in words or o.colour == sentence_object.colour)
        and (sentence_object.size not in words or o.size == sentence_object.size)
        for o in scene.objects
    )


def contrastive_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Symmetric cross-entropy with multi-positive targets (a sentence may fit several images in a batch)."""
    image_loss = -(F.log_softmax(logits, 1) * targets / targets.sum(1, keepdim=True)).sum(1).mean()
    text_loss = -(F.log_softmax(logits.T, 1) * targets.T / targets.T.sum(1, keepdim=True)).sum(1).mean()
    return (image_loss + text_loss) / 2


def train_clip(
    model: CLIPModel,
    processor: CLIPProcessor,
    scenes: Sequence[Scene],
    images: Sequence[Image.Image],
    settings: CLIPTrainingSettings,
    progress: Any = None,
) -> dict[str, Any]:
    """Contrastive training on (image, sentence about one of its objects) pairs; returns timing and loss."""
    torch.manual_seed(settings.seed)
    rng = random.Random(f"clip:{settings.seed}")
    pixels = processor.image_processor(images=list(images), return_tensors="pt")["pixel_values"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, settings.lr, total_steps=max(settings.max_steps, 1)
    )
    model.train()
    start, loss = time.perf_counter(), torch.tensor(float("nan"))
    for _ in range(settings.max_steps):
        index = rng.sample(range(len(scenes)), min(settings.batch_size, len(scenes)))
        objects = [rng.choice(scenes[i].objects) for i in index]
        sentences = [object_sentence(o, rng) for o in objects]
        text = processor.tokenizer(sentences, padding=True, return_tensors="pt")
        targets = torch.tensor(
            [
                [float(_matches(o, s, scenes[j])) for j in index]
                for o, s in zip(objects, sentences, strict=True)
            ]
        ).T
        out = model(
            input_ids=text["input_ids"], attention_mask=text["attention_mask"], pixel_values=pixels[index]
        )
        loss = contrastive_loss(out.logits_per_image, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if progress is not None:
            progress(1)
    model.eval()
    return {"train_seconds": round(time.perf_counter() - start, 1), "final_loss": float(loss.detach())}


@torch.no_grad()
def presence_scores(
    model: CLIPModel,
    processor: Any,
    world: WorldSettings,
    images: Sequence[Image.Image],
    batch_size: int = 256,
) -> torch.Tensor:
    """[images, shapes] image-text logits for "There is a {shape} in the image." (world.shapes order)."""
    sentences = [PRESENCE_TEMPLATE.format(shape=shape) for shape in world.shapes]
    rows = []
    for start in range(0, len(images), batch_size):
        inputs = processor(
            text=sentences, images=list(images[start : start + batch_size]), return_tensors="pt", padding=True
        )
        rows.append(model(**inputs).logits_per_image)
    return torch.cat(rows)


def clip_auc(
    model: CLIPModel,
    processor: Any,
    world: WorldSettings,
    scenes: Sequence[Scene],
    images: Sequence[Image.Image],
) -> dict[str, float]:
    """ROC-AUC of the CLIP score separating present from absent shapes, pooled over all (scene, shape) pairs."""
    scores = presence_scores(model, processor, world, images)
    labels = torch.tensor(
        [[shape in scene.shapes for shape in world.shapes] for scene in scenes], dtype=torch.long
    )
    per_scene = [
        float(binary_auroc(scores[i], labels[i]))
        for i in range(len(scenes))
        if 0 < labels[i].sum() < len(world.shapes)
    ]
    return {
        "auc": float(binary_auroc(scores.flatten(), labels.flatten())),
        "auc_within_scene": sum(per_scene) / max(len(per_scene), 1),
        "n_scenes": len(scenes),
        "n_pairs": int(labels.numel()),
    }


def save_clip(model: CLIPModel, processor: Any, out_dir: str | Path, info: dict[str, Any]) -> None:
    """Save model and processor in Hugging Face format, plus a small training summary."""
    model.save_pretrained(str(out_dir))
    processor.save_pretrained(str(out_dir))
    (Path(out_dir) / "training.json").write_text(json.dumps(info, indent=2, sort_keys=True))
