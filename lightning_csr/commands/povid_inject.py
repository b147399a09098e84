"""`lightning-csr povid inject`: POVID preference pairs, a correct answer vs the same with injected hallucinations."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from lightning_csr.data.hf_export import write_pairs_dataset
from lightning_csr.data.injection import (
    EDIT_KINDS,
    AnswerRecord,
    HallucinationInjector,
    InjectionVocabulary,
    LLMInjector,
    RuleBasedInjector,
    inject_pairs,
    read_answers,
)
from lightning_csr.data.records import write_records


def add_injector_arguments(parser: argparse.ArgumentParser) -> None:
    """The injector's options (rule-based or LLM), shared by every command that injects."""
    parser.add_argument("--injector", choices=("rule", "llm"), default="rule")
    parser.add_argument("--num-edits", type=int, default=2, help="hallucinated facts per answer")
    parser.add_argument("--kinds", nargs="+", default=list(EDIT_KINDS), choices=EDIT_KINDS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vocabulary", help="'coco' or a saved InjectionVocabulary JSON (rule)")
    parser.add_argument("--base-url", help="OpenAI-compatible API root (llm)")
    parser.add_argument("--model", help="chat model (llm)")
    parser.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="env var holding the API key ('' for none)"
    )
    parser.add_argument("--cache", help="JSON cache of LLM replies")


def build_injector(
    args: argparse.Namespace, default_vocabulary: Callable[[], InjectionVocabulary] | None = None
) -> HallucinationInjector:
    """The injector the command line asks for; the rule-based one edits `--vocabulary`, else the default."""
    if args.injector == "llm":
        if not args.base_url or not args.model:
            raise SystemExit("--injector llm needs --base-url and --model")
        return LLMInjector(args.base_url, args.model, args.num_edits, args.api_key_env or None, args.cache)
    if args.vocabulary == "coco":
        vocabulary = InjectionVocabulary.coco()
    elif args.vocabulary:
        vocabulary = InjectionVocabulary.load(args.vocabulary)
    elif default_vocabulary is not None:
        vocabulary = default_vocabulary()
    else:
        raise SystemExit("the rule-based injector needs --vocabulary coco or a saved vocabulary JSON")
    return RuleBasedInjector(vocabulary, args.num_edits, args.kinds, args.seed)


def write_injected_pairs(
    answers: Sequence[AnswerRecord],
    injector: HallucinationInjector,
    name: str,
    out: str | Path,
    dataset_out: str | Path | None = None,
    image_root: str | Path | None = None,
) -> dict[str, int]:
    """Inject into every answer, write the pairs to `out` (and as a dataset to `dataset_out`, images relative to
    `image_root`, default `out`'s directory) and print (and return) the counts."""
    pairs, failed = inject_pairs(answers, injector, name)
    write_records(out, pairs)
    if dataset_out is not None:
        write_pairs_dataset(pairs, image_root or Path(out).parent, dataset_out)
    counts = {"answers": len(answers), "pairs": len(pairs), "failed": len(failed)}
    print(f"{out}: {counts['pairs']} pairs from {counts['answers']} answers ({counts['failed']} failed)")
    if failed:
        print(f"no injection for: {failed[:10]}{' ...' if len(failed) > 10 else ''}")
    return counts


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lightning-csr povid inject", description=__doc__)
    p.add_argument(
        "--input", required=True, help="JSONL {id, image, prompt, response, objects?} of correct answers"
    )
    p.add_argument("--out", required=True, help="preference JSONL to write")
    p.add_argument(
        "--out-dataset",
        help="also write the pairs as a Hugging Face dataset with the images embedded (TRL's vision layout)",
    )
    p.add_argument(
        "--image-root", help="directory the answers' images are relative to (default: --out's directory)"
    )
    add_injector_arguments(p)
    return p


def main(argv: Sequence[str]) -> dict[str, int]:
    """Write POVID pairs from correct answers (JSONL) with a rule-based or LLM injector."""
    args = parser().parse_args(argv)
    answers, injector = read_answers(args.input), build_injector(args)
    return write_injected_pairs(answers, injector, args.injector, args.out, args.out_dataset, args.image_root)
