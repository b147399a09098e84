"""ShapeWorld text tasks: description prompts and references, POPE questions, attribute questions."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence
from itertools import combinations, product

from lightning_csr.shapeworld.world.settings import Scene, SceneObject, WorldSettings

DESCRIPTION_PROMPTS: tuple[str, ...] = (
    "Describe the image in detail.",
    "Describe this image.",
    "What do you see in the image? Describe it in detail.",
    "Give a detailed description of the image.",
    "Describe all the objects in the image.",
    "Tell me what is in the picture.",
)
POPE_SPLITS: tuple[str, ...] = ("random", "popular", "adversarial")
POPE_TEMPLATE = "Is there a {shape} in the image?"
YES_TEMPLATE = "Yes, there is a {shape} in the image."
NO_TEMPLATE = "No, there is no {shape} in the image."
COLOUR_QUESTIONS: tuple[str, ...] = ("What colour is the {shape}?", "What is the colour of the {shape}?")
SIZE_QUESTIONS: tuple[str, ...] = ("Is the {shape} small or large?", "What size is the {shape}?")

_POSITIONS = (
    ("in the top left", "at the top", "in the top right"),
    ("on the left", "in the center", "on the right"),
    ("in the bottom left", "at the bottom", "in the bottom right"),
)
_FIRST = ("There is a {obj} {pos}.", "{Pos}, there is a {obj}.", "The image shows a {obj} {pos}.")
_ABSOLUTE = ("There is also a {obj} {pos}.", "{Pos}, there is a {obj}.", "A {obj} is {pos}.")
_BELOW = ("Below it, a {obj}.", "Below it, there is a {obj}.")
_RIGHT = ("To its right, a {obj}.", "To the right of it, there is a {obj}.")
# how noisy captions add an object the prior suggests (`sft_data.noisy_description`)
PRIOR_TEMPLATE = "There is also a {obj} {pos}."


def position_phrase(cell: tuple[int, int], grid: int = 3) -> str:
    """Where a cell lies, in words ("in the top left")."""
    row, col = (int((index + 0.5) * 3 / grid) for index in cell)
    return _POSITIONS[row][col]


def object_phrase(obj: SceneObject) -> str:
    """Size, colour and shape ("large red star")."""
    return f"{obj.size} {obj.colour} {obj.shape}"


def _sentence(template: str, obj: SceneObject, grid: int) -> str:
    """Fill a template; capitalise the sentence."""
    pos = position_phrase(obj.cell, grid)
    text = template.format(obj=object_phrase(obj), pos=pos, Pos=pos[0].upper() + pos[1:])
    return text[0].upper() + text[1:]


def describe_sentences(scene: Scene, rng: random.Random, world: WorldSettings | None = None) -> list[str]:
    """Reference description: one sentence per object, in reading order, each ending in '.'."""
    grid = world.grid if world is not None else 3
    sentences = []
    previous: SceneObject | None = None
    for obj in scene.objects:
        if previous is None:
            template = rng.choice(_FIRST)
        elif obj.cell[1] == previous.cell[1] and obj.cell[0] > previous.cell[0] and rng.random() < 0.6:
            template = rng.choice(_BELOW)
        elif obj.cell[0] == previous.cell[0] and obj.cell[1] > previous.cell[1] and rng.random() < 0.6:
            template = rng.choice(_RIGHT)
        else:
            template = rng.choice(_ABSOLUTE)
        sentences.append(_sentence(template, obj, grid))
        previous = obj
    return sentences


def describe(scene: Scene, rng: random.Random, world: WorldSettings | None = None) -> str:
    """Reference description as one string (`describe_sentences` joined)."""
    return " ".join(describe_sentences(scene, rng, world))


def prior_sentence(obj: SceneObject, world: WorldSettings, template: str = PRIOR_TEMPLATE) -> str:
    """The sentence a noisy caption adds for an object suggested by the co-occurrence prior."""
    return _sentence(template, obj, world.grid)


def shape_counts(scenes: Sequence[Scene]) -> Counter[str]:
    """In how many scenes each shape appears."""
    return Counter(shape for scene in scenes for shape in scene.shapes)


def co_occurrence_counts(scenes: Sequence[Scene]) -> Counter[tuple[str, str]]:
    """In how many scenes each ordered pair of distinct shapes appears together."""
    counts: Counter[tuple[str, str]] = Counter()
    for scene in scenes:
        for a, b in combinations(sorted(scene.shapes), 2):
            counts[(a, b)] += 1
            counts[(b, a)] += 1
    return counts


def pope_negatives(
    scene: Scene,
    world: WorldSettings,
    split: str,
    k: int,
    rng: random.Random,
    shapes: Counter,
    pairs: Counter,
) -> list[str]:
    """k absent shapes: random, most frequent ('popular'), or most co-occurring with present ones ('adversarial')."""
    absent = [s for s in world.shapes if s not in scene.shapes]
    if split == "random":
        return rng.sample(absent, k)
    if split == "popular":
        return sorted(absent, key=lambda s: (-shapes[s], -world.shape_weight(s), s))[:k]
    if split == "adversarial":

        def together(s: str) -> int:
            return sum(pairs[(p, s)] for p in scene.shapes)

        return sorted(absent, key=lambda s: (-together(s), -shapes[s], s))[:k]
    raise ValueError(f"unknown POPE split {split!r}; expected one of {POPE_SPLITS}")


def pope_questions(
    scenes: Sequence[Scene],
    world: WorldSettings,
    seed: int = 0,
    n_per_scene: int = 3,
    splits: Sequence[str] = POPE_SPLITS,
) -> list[dict]:
    """POPE-style yes/no questions: per scene and split, up to n_per_scene positives and as many negatives.

    Frequencies and co-occurrences are counted over the given scenes (as POPE counts over its dataset).
    """
    rng = random.Random(f"pope:{seed}")
    shapes, pairs = shape_counts(scenes), co_occurrence_counts(scenes)
    questions = []
    for scene in scenes:
        present = sorted(scene.shapes)
        k = min(n_per_scene, len(present), len(world.shapes) - len(present))
        positives = rng.sample(present, k)
        for split in splits:
            negatives = pope_negatives(scene, world, split, k, rng, shapes, pairs)
            for shape, label in [(s, True) for s in positives] + [(s, False) for s in negatives]:
                questions.append(
                    {
                        "scene_id": scene.id,
                        "question": POPE_TEMPLATE.format(shape=shape),
                        "label": label,
                        "split": split,
                        "object": shape,
                    }
                )
    return questions


def attribute_questions(scene: Scene, rng: random.Random) -> list[dict]:
    """Colour and size questions about shapes that occur exactly once in the scene."""
    counts = Counter(obj.shape for obj in scene.objects)
    questions = []
    for obj in scene.objects:
        if counts[obj.shape] != 1:
            continue
        for attribute, templates, answer in (
            ("colour", COLOUR_QUESTIONS, obj.colour),
            ("size", SIZE_QUESTIONS, obj.size),
        ):
            questions.append(
                {
                    "scene_id": scene.id,
                    "question": rng.choice(templates).format(shape=obj.shape),
                    "answer": answer,
                    "object": obj.shape,
                    "attribute": attribute,
                }
            )
    return questions


def world_corpus(world: WorldSettings, scenes: Sequence[Scene], seed: int = 0) -> list[str]:
    """Every kind of text the world produces, for training its tokenizer."""
    rng = random.Random(f"corpus:{seed}")
    texts = list(DESCRIPTION_PROMPTS)
    vocabulary = [*world.colours, *world.sizes]
    texts += [" ".join(vocabulary), " ".join(v.capitalize() for v in vocabulary), "Yes. No. yes no"]
    texts += [f"{value}." for value in vocabulary] + [f"{value.capitalize()}." for value in vocabulary]
    for template in (*_FIRST, *_ABSOLUTE, *_BELOW, *_RIGHT):
        for row, col in product(range(world.grid), repeat=2):
            obj = SceneObject(world.shapes[0], world.colours[0], world.sizes[0], (row, col), (0, 0, 1, 1))
            texts.append(_sentence(template, obj, world.grid))
    for shape in world.shapes:
        texts += [
            POPE_TEMPLATE.format(shape=shape),
            YES_TEMPLATE.format(shape=shape),
            NO_TEMPLATE.format(shape=shape),
        ]
        texts += [t.format(shape=shape) for t in (*COLOUR_QUESTIONS, *SIZE_QUESTIONS)]
    for scene in scenes:
        texts.append(describe(scene, rng, world))
        texts += [f"{q['question']} {q['answer']}." for q in attribute_questions(scene, rng)]
    return texts
