"""`lightning-csr povid inject`: write POVID preference pairs (ground truth vs hallucination-injected answer)."""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lightning_csr.data.injection import (
    EDIT_KINDS,
    HallucinationInjector,
    InjectionError,
    InjectionRequest,
    InjectionVocabulary,
    LLMInjector,
    RuleBasedInjector,
)
from lightning_csr.data.records import PreferenceRecord, write_records

ANSWER_FIELDS = ("response", "answer", "chosen")


@dataclass
class AnswerRecord:
    """A correct answer to inject into: id, image (relative to the data root), prompt, answer, objects present."""

    id: str
    image: str
    prompt: str
    answer: str
    present: list[str] = field(default_factory=list)


def read_answers(path: str | Path) -> list[AnswerRecord]:
    """JSONL {id, image, prompt, response|answer|chosen, objects?}; errors name the file and line."""
    path = Path(path)
    records = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        obj = json.loads(line)
        answer = next((obj[k] for k in ANSWER_FIELDS if isinstance(obj.get(k), str)), None)
        missing = [k for k in ("id", "image", "prompt") if not isinstance(obj.get(k), str)]
        if answer is None or missing:
            raise ValueError(f"{path}:{lineno}: needs id, image, prompt and one of {ANSWER_FIELDS}")
        present = obj.get("objects") or obj.get("present") or []
        records.append(AnswerRecord(str(obj["id"]), obj["image"], obj["prompt"], answer, list(present)))
    return records


def shapeworld_answers(data_dir: str | Path, split: str = "train", seed: int = 0) -> list[AnswerRecord]:
    """The ShapeWorld preference prompts (`prompts/<split>.jsonl`) with ground-truth descriptions as answers."""
    from lightning_csr.data.prompts import read_prompts
    from lightning_csr.shapeworld import WorldConfig, describe
    from lightning_csr.shapeworld.build.prepare import read_scenes

    root = Path(data_dir)
    world = WorldConfig.load(root / "world.json")
    scenes = {scene.id: scene for scene in read_scenes(root, split)}
    records = []
    for prompt in read_prompts(root / "prompts" / f"{split}.jsonl"):
        scene = scenes[prompt.id]
        answer = describe(scene, random.Random(f"ground-truth:{seed}:{scene.id}"), world)
        records.append(AnswerRecord(prompt.id, prompt.image, prompt.prompt, answer, sorted(scene.shapes)))
    return records


def inject_pairs(
    answers: Sequence[AnswerRecord], injector: HallucinationInjector, name: str
) -> tuple[list[PreferenceRecord], list[str]]:
    """Preference records (chosen = answer, rejected = injected) and the ids no injection could be made for."""
    requests = [InjectionRequest(a.answer, a.id, a.prompt, frozenset(a.present)) for a in answers]
    pairs, failed = [], []
    for answer, result in zip(answers, injector.inject_many(requests), strict=True):
        if isinstance(result, InjectionError):
            failed.append(answer.id)
            continue
        meta = {"source": "povid-inject", "injector": name, "edits": [asdict(e) for e in result.edits]}
        pairs.append(
            PreferenceRecord(answer.id, answer.image, answer.prompt, answer.answer, result.text, meta)
        )
    return pairs, failed


def build_injector(args: argparse.Namespace) -> HallucinationInjector:
    """The injector the command line asks for."""
    if args.injector == "llm":
        if not args.base_url or not args.model:
            raise SystemExit("--injector llm needs --base-url and --model")
        return LLMInjector(args.base_url, args.model, args.num_edits, args.api_key_env or None, args.cache)
    return RuleBasedInjector(vocabulary(args), args.num_edits, args.kinds, args.seed)


def vocabulary(args: argparse.Namespace) -> InjectionVocabulary:
    """ShapeWorld (from --world or --shapeworld, statistics over --scenes), COCO, or a saved vocabulary."""
    from lightning_csr.shapeworld import WorldConfig
    from lightning_csr.shapeworld.build.prepare import read_scenes

    if args.vocabulary == "coco":
        return InjectionVocabulary.coco()
    if args.vocabulary:
        return InjectionVocabulary.load(args.vocabulary)
    root = Path(args.shapeworld) if args.shapeworld else None
    world_path = args.world or (root / "world.json" if root else None)
    if world_path is None:
        raise SystemExit("the rule-based injector needs --world, --shapeworld or --vocabulary")
    world = WorldConfig.load(world_path)
    scenes = []
    if args.scenes:
        scenes = [json.loads(line) for line in Path(args.scenes).read_text().splitlines() if line.strip()]
        from lightning_csr.shapeworld import Scene

        scenes = [Scene.from_dict(s) for s in scenes]
    elif root is not None:
        scenes = read_scenes(root, "train")
    return InjectionVocabulary.from_world(world, scenes)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lightning-csr povid inject", description=__doc__)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="JSONL {id, image, prompt, response, objects?} of correct answers")
    source.add_argument("--shapeworld", help="a prepared ShapeWorld directory: prompts + ground truth")
    p.add_argument("--split", default="train", help="ShapeWorld prompt split")
    p.add_argument("--out", required=True, help="preference JSONL to write")
    p.add_argument("--injector", choices=("rule", "llm"), default="rule")
    p.add_argument("--num-edits", type=int, default=2, help="hallucinated facts per answer")
    p.add_argument("--kinds", nargs="+", default=list(EDIT_KINDS), choices=EDIT_KINDS)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--world", help="ShapeWorld world.json (rule vocabulary)")
    p.add_argument("--scenes", help="scenes JSONL for co-occurrence statistics")
    p.add_argument("--vocabulary", help="'coco' or a saved InjectionVocabulary JSON")
    p.add_argument("--base-url", help="OpenAI-compatible API root (llm)")
    p.add_argument("--model", help="chat model (llm)")
    p.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="env var holding the API key ('' for none)"
    )
    p.add_argument("--cache", help="JSON cache of LLM replies")
    return p


def inject_main(argv: Sequence[str]) -> dict[str, int]:
    """Run `povid inject`; returns the counts it prints."""
    args = parser().parse_args(argv)
    answers = (
        read_answers(args.input) if args.input else shapeworld_answers(args.shapeworld, args.split, args.seed)
    )
    pairs, failed = inject_pairs(answers, build_injector(args), args.injector)
    write_records(args.out, pairs)
    counts = {"answers": len(answers), "pairs": len(pairs), "failed": len(failed)}
    print(f"{args.out}: {counts['pairs']} pairs from {counts['answers']} answers ({counts['failed']} failed)")
    if failed:
        print(f"no injection for: {failed[:10]}{' ...' if len(failed) > 10 else ''}")
    return counts


def main(argv: Sequence[str]) -> None:
    """`lightning-csr povid <command>`; the only command is `inject`."""
    argv = list(argv)
    if not argv or argv[0] != "inject":
        raise SystemExit(
            "usage: lightning-csr povid inject --input FILE | --shapeworld DIR --out pairs.jsonl ..."
        )
    inject_main(argv[1:])
