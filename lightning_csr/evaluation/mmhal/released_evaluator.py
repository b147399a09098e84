"""Read the judge prompt and the rating rule from MMHal-Bench's own `eval_gpt4.py`, without running it.

Every MMHal-Bench download ships `eval_gpt4.py`; its prompt's words are not ours to copy, so the project reads
them from the user's file at run time (`--mmhal-evaluator`). The file is parsed with `ast`, never executed:
- the prompt: the module-level string assigned to `template`, filled by `template.format(...)` whose arguments
  name the image contents (joined with the separator of `'<sep>'.join(...image_content...)`), the question, the
  standard answer (`gt_answer`) and the model's response (`model_answer`);
- the rating rule: `for s in range(N)` testing `f'rating: {s}' in response.lower()`: a reply counts when exactly
  one of those strings occurs in it (else it scores 0, as in the file), ratings 0..N-1;
- the hallucination rule: the comparison `s >= K` that marks a rating as free of hallucination.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from lightning_csr.evaluation.mmhal.data import MMHalItem

# what each `template.format` argument may name, and the item field it stands for
FIELDS: tuple[tuple[str, str], ...] = (
    ("image_content", "image_content"),
    ("gt_answer", "gt_answer"),
    ("model_answer", "response"),
    ("question", "question"),
)


@dataclass(frozen=True)
class ReleasedJudge:
    """The released prompt and rating rule, as read from one `eval_gpt4.py`."""

    source: Path
    template: str
    order: tuple[str, ...]  # the item field behind each "{}" of the template
    separator: str
    prefix: str
    ratings: tuple[int, ...]
    lower: bool
    hallucination_below: int

    def prompt(self, item: MMHalItem, response: str) -> str:
        """The judge prompt for one item and response, filled as the file fills it."""
        values = {
            "image_content": self.separator.join(item.image_content),
            "question": item.question,
            "gt_answer": item.gt_answer,
            "response": response,
        }
        return self.template.format(*(values[name] for name in self.order))

    def rating(self, reply: str) -> int | None:
        """The rating when exactly one `<prefix><rating>` occurs in the reply, else None (the file scores 0)."""
        text = reply.lower() if self.lower else reply
        found = [value for value in self.ratings if f"{self.prefix}{value}" in text]
        return found[0] if len(found) == 1 else None


def _fail(path: Path, what: str) -> ValueError:
    return ValueError(f"{path}: cannot find {what}; is this MMHal-Bench's eval_gpt4.py?")


def _template(tree: ast.Module, path: Path) -> str:
    for node in tree.body:
        named = isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "template" for t in node.targets)
        if named and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return node.value.value
    raise _fail(path, "a module-level string `template = '''...'''`")


def _format_order(tree: ast.Module, path: Path) -> tuple[str, ...]:
    for node in ast.walk(tree):
        call = node if isinstance(node, ast.Call) else None
        func = call.func if call else None
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "format"
            and getattr(func.value, "id", "") == "template"
        ):
            order = []
            for argument in call.args:
                text = ast.unparse(argument)
                field = next((name for key, name in FIELDS if key in text), None)
                if field is None:
                    raise _fail(path, f"what `template.format` argument {text!r} stands for")
                order.append(field)
            return tuple(order)
    raise _fail(path, "the call `template.format(...)`")


def _separator(tree: ast.Module) -> str:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "join"
            and isinstance(node.func.value, ast.Constant)
            and "image_content" in ast.unparse(node)
        ):
            return node.func.value.value
    return ", "


def _rating_rule(tree: ast.Module, path: Path) -> tuple[str, tuple[int, ...], bool]:
    for loop in ast.walk(tree):
        if not (isinstance(loop, ast.For) and isinstance(loop.iter, ast.Call)):
            continue
        if getattr(loop.iter.func, "id", "") != "range" or not isinstance(loop.target, ast.Name):
            continue
        for node in ast.walk(loop):
            if (
                isinstance(node, ast.Compare)
                and isinstance(node.left, ast.JoinedStr)
                and isinstance(node.ops[0], ast.In)
            ):
                parts = node.left.values
                if (
                    len(parts) == 2
                    and isinstance(parts[0], ast.Constant)
                    and isinstance(parts[1], ast.FormattedValue)
                ):
                    stop = ast.literal_eval(loop.iter.args[0])
                    lower = "lower()" in ast.unparse(node.comparators[0])
                    return parts[0].value, tuple(range(stop)), lower
    raise _fail(path, "the rating rule `for s in range(N): if f'rating: {s}' in ...`")


def _threshold(tree: ast.Module, path: Path) -> int:
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Compare)
            and isinstance(node.ops[0], ast.GtE)
            and isinstance(node.left, ast.Name)
        ):
            comparator = node.comparators[0]
            if isinstance(comparator, ast.Constant) and isinstance(comparator.value, int):
                return comparator.value
    raise _fail(path, "the hallucination rule `s >= K`")


def load_released_judge(path: str | Path) -> ReleasedJudge:
    """The prompt and rules of the `eval_gpt4.py` at `path` (parsed, not run)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"MMHal-Bench evaluator not found: {path} (eval_gpt4.py of the MMHal-Bench download)"
        )
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as error:
        raise ValueError(f"{path}:{error.lineno}: not valid Python ({error.msg})") from error
    template, order = _template(tree, path), _format_order(tree, path)
    if template.count("{}") != len(order):
        raise _fail(path, f"{len(order)} '{{}}' slots in `template` (it has {template.count('{}')})")
    prefix, ratings, lower = _rating_rule(tree, path)
    return ReleasedJudge(
        path, template, order, _separator(tree), prefix, ratings, lower, _threshold(tree, path)
    )
