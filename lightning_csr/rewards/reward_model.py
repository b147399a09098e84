"""Fact-RLHF reward model: a VLM with a LoRA adapter and a scalar head read at the last real token.

The reward input is the conversation followed by a judging turn (llava_rlhf.md §1.4): the "accurate" criterion
can carry facts about the image ("... fully supported by the combination of the following captions:" and a
shuffled list). Inputs are assembled on token ids: prompt ids (image tokens included) + response ids (ending in
end-of-turn) + the judging turn's ids, so the same function serves pairs from text and PPO rollouts.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from lightning_csr.backbones.base import Backbone
from lightning_csr.losses.masked import last_set_index

FACTS_INTRO = "Specifically, the AI's response should be fully supported by the combination of the following captions:\n"
JUDGE_TEMPLATE = (
    "Please rate your last answer. Judge it on these points:\n"
    "1. Accurate: every statement must be grounded in the image; nothing the image does not show may be "
    "claimed. {facts}\n"
    "2. Helpful: the answer should address the question fully while staying grounded in the image.\n"
    "3. Natural: the wording should read smoothly, without repetition.\n"
    "4. Concise: the answer should say what is needed and nothing more.\n"
    "A good answer is accurate, helpful, natural and concise."
)
SCORE_PREFIX = "Judging by these points, the score of my last answer is"
HEAD_FILE = "reward_head.pt"
PROMPT_FILE = "reward_prompt.json"


@dataclass
class RewardPrompt:
    """The judging turn appended after the response; `use_facts` switches factual augmentation.

    `facts_position`: `judge` puts the facts in the judging turn after the response (the released template);
    `question` puts them before the question, so every response token can attend to them (a small reward
    model finds an unsupported word far more easily when it reads the facts first).
    """

    use_facts: bool = True
    shuffle_facts: bool = True
    seed: int = 0
    template: str = JUDGE_TEMPLATE
    facts_intro: str = FACTS_INTRO
    score_prefix: str = SCORE_PREFIX
    facts_position: str = "judge"

    def __post_init__(self) -> None:
        if "{facts}" not in self.template:
            raise ValueError("RewardPrompt.template must contain the '{facts}' placeholder")
        if self.facts_position not in ("judge", "question"):
            raise ValueError(
                f"RewardPrompt.facts_position: 'judge' or 'question', got {self.facts_position!r}"
            )

    def facts_text(self, facts: Sequence[str], key: str) -> str:
        """The facts block (each fact once, order shuffled by (seed, key)); empty without facts."""
        if not self.use_facts or not facts:
            return ""
        facts = list(facts)
        if self.shuffle_facts:
            random.Random(f"{self.seed}:{key}").shuffle(facts)
        return self.facts_intro + "".join(f"  - {fact}\n" for fact in facts)

    def judge_text(self, facts: Sequence[str] = (), key: str = "") -> str:
        """The judging user turn, with the facts filled in when they go there."""
        block = self.facts_text(facts, key) if self.facts_position == "judge" else ""
        return self.template.format(facts=block).strip()

    def question_text(self, question: str, facts: Sequence[str] = (), key: str = "") -> str:
        """The user's question, preceded by the facts when they go there."""
        if self.facts_position != "question" or not (block := self.facts_text(facts, key)):
            return question
        return f"{block}{question}"


def judge_suffix(backbone: Backbone, judge: str, score_prefix: str) -> str:
    """Template text that follows a finished assistant turn: the judging user turn, then the score prefix."""
    chat = [*backbone.prompt_messages("q"), {"role": "assistant", "content": [{"type": "text", "text": "a"}]}]
    apply = backbone.processor.apply_chat_template
    before = apply(chat)
    after = apply(
        [*chat, {"role": "user", "content": [{"type": "text", "text": judge}]}], add_generation_prompt=True
    )
    suffix = (
        after[len(before) :]
        if after.startswith(before)
        else apply(
            [{"role": "user", "content": [{"type": "text", "text": judge}]}], add_generation_prompt=True
        )
    )
    return f"{suffix} {score_prefix}"


def stack_rows(
    rows: Sequence[list[int]], pad_id: int, padding_side: str = "right"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token-id rows into (input_ids, attention_mask), padding on either side."""
    length = max(len(r) for r in rows)
    ids = torch.full((len(rows), length), pad_id, dtype=torch.long)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for i, row in enumerate(rows):
        span = slice(0, len(row)) if padding_side == "right" else slice(length - len(row), length)
        ids[i, span] = torch.tensor(row, dtype=torch.long)
        mask[i, span] = 1
    return ids, mask


def reward_inputs(
    backbone: Backbone,
    images: Sequence[Image.Image],
    prompts: Sequence[str],
    responses: Sequence[Sequence[int]],
    facts: Sequence[Sequence[str]],
    keys: Sequence[str],
    prompt: RewardPrompt,
    padding_side: str = "right",
) -> dict[str, torch.Tensor]:
    """Reward-model batch: prompt ids + response ids (with end-of-turn) + judging turn, padded one side."""
    if not len(images) == len(prompts) == len(responses) == len(facts) == len(keys):
        raise ValueError("reward_inputs: images, prompts, responses, facts and keys differ in length")
    questions = [prompt.question_text(q, facts[i], keys[i]) for i, q in enumerate(prompts)]
    enc = backbone.prompt_batch(images, questions)
    mask = enc.pop("attention_mask").bool()
    prompt_ids = enc.pop("input_ids")
    # per-token side inputs (Qwen2-VL's mm_token_type_ids) take their response value after the prompt
    token_inputs = {k: enc.pop(k) for k in list(enc) if k in backbone.token_level_inputs}
    tokenizer = backbone.tokenizer
    rows, extras = [], {k: [] for k in token_inputs}
    for i in range(len(prompts)):
        suffix = judge_suffix(backbone, prompt.judge_text(facts[i], keys[i]), prompt.score_prefix)
        suffix_ids = tokenizer(suffix, add_special_tokens=False)["input_ids"]
        rows.append(prompt_ids[i][mask[i]].tolist() + list(responses[i]) + suffix_ids)
        for k, values in token_inputs.items():
            tail = [backbone.token_level_inputs[k]] * (len(responses[i]) + len(suffix_ids))
            extras[k].append(values[i][mask[i]].tolist() + tail)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else backbone.end_of_turn_id
    input_ids, attention_mask = stack_rows(rows, pad, padding_side)
    side = {k: stack_rows(r, 0, padding_side)[0].to(token_inputs[k].dtype) for k, r in extras.items()}
    return {"input_ids": input_ids, "attention_mask": attention_mask, **enc, **side}


def inner_model(model: torch.nn.Module) -> torch.nn.Module:
    """The backbone without its output head (peft wrapper and `...ForConditionalGeneration` stripped)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return getattr(base, "model", base)


def last_hidden_states(model: torch.nn.Module, inputs: dict[str, Any]) -> torch.Tensor:
    """Last-layer hidden states [B, T, H] of the language model (no output-head projection)."""
    out = inner_model(model)(**inputs, use_cache=False)
    return out.last_hidden_state


def last_token_values(
    hidden: torch.Tensor, attention_mask: torch.Tensor, head: torch.nn.Module
) -> torch.Tensor:
    """The head applied to the hidden state at each row's last non-padding position → [B]."""
    last = last_set_index(attention_mask)
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    picked = hidden[rows, last]
    return head(picked.to(head.weight.dtype)).squeeze(-1)


def scalar_head(hidden_size: int, zero: bool = False) -> torch.nn.Linear:
    """A linear map hidden → 1 with zero bias (weights zero when `zero`)."""
    head = torch.nn.Linear(hidden_size, 1)
    torch.nn.init.zeros_(head.bias)
    if zero:
        torch.nn.init.zeros_(head.weight)
    else:
        torch.nn.init.normal_(head.weight, std=1.0 / (hidden_size + 1) ** 0.5)
    return head


def hidden_size(model: torch.nn.Module) -> int:
    """Width of the language model's hidden states."""
    return model.get_input_embeddings().embedding_dim


def reward_scores(
    model: torch.nn.Module, head: torch.nn.Module, backbone: Backbone, batch: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Scalar rewards [B] of a reward batch under the model's active adapter."""
    hidden = last_hidden_states(model, backbone.model_inputs(batch))
    return last_token_values(hidden, batch["attention_mask"], head)


def save_reward_model(
    out_dir: str | Path,
    model: torch.nn.Module,
    head: torch.nn.Module,
    prompt: RewardPrompt,
    adapter: str = "default",
) -> Path:
    """Write the reward LoRA adapter (peft format), the head and the judging-prompt settings."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), selected_adapters=[adapter])
    if adapter != "default":  # peft writes non-default adapters to a sub-directory
        for path in (out_dir / adapter).iterdir():
            path.replace(out_dir / path.name)
    torch.save({k: v.detach().cpu() for k, v in head.state_dict().items()}, out_dir / HEAD_FILE)
    (out_dir / PROMPT_FILE).write_text(json.dumps(asdict(prompt), indent=2))
    return out_dir


def _head_and_prompt(directory: Path) -> tuple[torch.nn.Linear, RewardPrompt]:
    """The frozen scalar head and the judging-prompt settings of a saved reward model."""
    if not (directory / HEAD_FILE).is_file():
        raise FileNotFoundError(f"{directory}: not a reward model directory (missing {HEAD_FILE})")
    state = torch.load(directory / HEAD_FILE, map_location="cpu")
    head = torch.nn.Linear(state["weight"].shape[1], 1)
    head.load_state_dict(state)
    head.requires_grad_(False)
    prompt = RewardPrompt(**json.loads((directory / PROMPT_FILE).read_text()))
    return head, prompt


def load_reward_model(
    model: torch.nn.Module, directory: str | Path, adapter: str = "reward"
) -> tuple[torch.nn.Linear, RewardPrompt]:
    """Load a saved reward model as a frozen adapter `adapter` on a peft model; return (head, prompt)."""
    directory = Path(directory)
    head, prompt = _head_and_prompt(directory)
    # peft's frozen load switches the whole model to eval mode (where transformers skips gradient
    # checkpointing); the model being trained beside this adapter keeps its mode
    training = model.training
    model.load_adapter(str(directory), adapter_name=adapter, is_trainable=False)
    model.train(training)
    return head, prompt


def read_reward_model(
    backbone: Backbone, directory: str | Path
) -> tuple[torch.nn.Module, torch.nn.Linear, RewardPrompt]:
    """A saved reward model on its own, for scoring: (the backbone's model with the adapter, head, prompt)."""
    from peft import PeftModel

    directory = Path(directory)
    head, prompt = _head_and_prompt(directory)
    model = PeftModel.from_pretrained(backbone.load_model(), str(directory), is_trainable=False)
    return model.eval(), head, prompt
