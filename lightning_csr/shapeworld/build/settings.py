"""What `lightning-csr shapeworld prepare` builds, as one dataclass with a full and a tiny scale."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from lightning_csr.shapeworld.models.clip import CLIPSettings, CLIPTrainingSettings
from lightning_csr.shapeworld.models.vision_pretrain import VisionPretrainSettings
from lightning_csr.shapeworld.models.vlm import SFTSettings, VLMSettings
from lightning_csr.shapeworld.world.tasks import PRIOR_TEMPLATE


@dataclass
class PrepareSettings:
    """Scene counts, model sizes and training lengths of one `prepare` run.

    SFT trains on the first `n_sft_scenes` train scenes; the next `n_prompt_scenes` are never trained on
    and become `prompts/train.jsonl` for preference generation.
    """

    n_sft_scenes: int = 4000
    n_prompt_scenes: int = 1000
    n_val_scenes: int = 200
    n_test_scenes: int = 500
    seed: int = 0
    vlm: VLMSettings = field(default_factory=VLMSettings)
    sft: SFTSettings = field(default_factory=SFTSettings)
    clip_model: CLIPSettings = field(default_factory=CLIPSettings)
    clip: CLIPTrainingSettings = field(default_factory=CLIPTrainingSettings)
    vision: VisionPretrainSettings = field(default_factory=VisionPretrainSettings)
    eval_batch_size: int = 64
    max_new_tokens: int = 64
    # probability that an SFT description also names an absent co-occurrence partner (the language prior the
    # base model learns from noisy captions; metrics are always against the ground truth)
    caption_prior_noise: float = 1.0
    # the wording of those sentences (fields: {obj}, {pos}, {Pos})
    caption_prior_template: str = PRIOR_TEMPLATE

    def __post_init__(self) -> None:
        for name in ("n_sft_scenes", "n_prompt_scenes", "n_val_scenes", "n_test_scenes"):
            if getattr(self, name) < 1:
                raise ValueError(f"PrepareSettings.{name}: must be >= 1, got {getattr(self, name)}")

    def with_model_seed(self, seed: int) -> PrepareSettings:
        """The same settings with every model's initialisation and data-order seed set to `seed`."""
        self.sft.seed = self.clip.seed = self.vision.seed = seed
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the inputs the stage hashes are built from)."""
        return asdict(self)


def tiny_settings() -> PrepareSettings:
    """A few scenes, tiny models and a few steps: the whole pipeline in seconds (tests)."""
    return PrepareSettings(
        n_sft_scenes=24,
        n_prompt_scenes=4,
        n_val_scenes=4,
        n_test_scenes=6,
        vlm=VLMSettings(text_hidden=64, text_intermediate=128, text_layers=1, text_heads=2),
        sft=SFTSettings(max_steps=3, batch_size=8),
        clip_model=CLIPSettings(
            vision_hidden=32,
            vision_intermediate=64,
            vision_layers=1,
            text_hidden=32,
            text_intermediate=64,
            text_layers=1,
            heads=2,
            projection_dim=32,
        ),
        clip=CLIPTrainingSettings(max_steps=3, batch_size=8),
        vision=VisionPretrainSettings(max_steps=3, batch_size=8, held_out=4),
        eval_batch_size=16,
        max_new_tokens=8,
    )


SCALES = {"full": PrepareSettings, "tiny": tiny_settings}
