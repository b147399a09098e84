"""The sentence tree a search builds for one prompt: nodes, paths, complete answers and a summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

FinishReason = Literal["stop", "end_of_turn", "sentence_tokens", "max_sentences", "max_new_tokens", "root"]
# reasons after which the answer is complete
FINAL_REASONS = frozenset({"end_of_turn", "max_sentences", "max_new_tokens"})


@dataclass(eq=False)
class SentenceNode:
    """One sentence: its token ids, their raw log-probs (log-softmax of unprocessed logits) and its place."""

    id: int
    parent: SentenceNode | None
    depth: int
    token_ids: list[int] = field(default_factory=list)
    token_logps: list[float] = field(default_factory=list)
    finish_reason: FinishReason = "root"
    content_ids: list[int] = field(default_factory=list)  # token_ids without the end-of-turn token
    children: list[SentenceNode] = field(default_factory=list)
    guide_score: float = 0.0  # cumulative score the search pruned on
    r_image: float | None = None  # image relevance, when computed during the search
    pruned: bool = False

    @property
    def logprob(self) -> float:
        """The sentence's log-probability: sum of its tokens' raw log-probs."""
        return float(sum(self.token_logps))

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def is_final(self) -> bool:
        """Whether this sentence completes the answer (end-of-turn or a cap)."""
        return self.finish_reason in FINAL_REASONS

    @property
    def has_content(self) -> bool:
        """False for a sentence that is only the end-of-turn token."""
        return bool(self.content_ids)

    def path(self) -> list[SentenceNode]:
        """Sentences from the first to this one (root excluded)."""
        nodes, node = [], self
        while node is not None and node.parent is not None:
            nodes.append(node)
            node = node.parent
        return nodes[::-1]

    def answer_ids(self) -> list[int]:
        """Token ids of the answer up to and including this sentence."""
        return [t for node in self.path() for t in node.token_ids]

    def answer_tokens(self) -> int:
        return sum(node.num_tokens for node in self.path())


@dataclass
class SearchTree:
    """All sentences generated for one prompt; `nodes[0]` is the root (the prompt itself)."""

    prompt: str
    index: int
    nodes: list[SentenceNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.nodes:
            self.nodes.append(SentenceNode(id=0, parent=None, depth=0))

    @property
    def root(self) -> SentenceNode:
        return self.nodes[0]

    def add_child(self, parent: SentenceNode) -> SentenceNode:
        node = SentenceNode(id=len(self.nodes), parent=parent, depth=parent.depth + 1)
        self.nodes.append(node)
        parent.children.append(node)
        return node

    def complete_answers(self) -> list[SentenceNode]:
        """The last sentences of complete answers (ended by end-of-turn or a cap), in creation order."""
        return [node for node in self.nodes if node.is_final]

    def summary(self) -> dict[str, Any]:
        """Nodes per depth, complete answers, tokens generated and why sentences ended."""
        per_depth = Counter(node.depth for node in self.nodes[1:])
        return {
            "nodes_per_depth": [per_depth[d] for d in range(1, max(per_depth, default=0) + 1)],
            "num_nodes": len(self.nodes) - 1,
            "complete_answers": len(self.complete_answers()),
            "generated_tokens": sum(node.num_tokens for node in self.nodes),
            "finish_reasons": dict(Counter(node.finish_reason for node in self.nodes[1:])),
        }
