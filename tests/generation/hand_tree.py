"""A hand-built sentence tree with known log-probs and image scores, shared by reward and pair tests."""

from __future__ import annotations

from lightning_csr.generation.tree import SearchTree

EOS = 2
# name: (parent, text, sum of raw log-probs, R_I, finish reason)
SENTENCES = {
    "A": (None, "A red box.", -3.0, 20.0, "end_of_turn"),
    "B": (None, "A blue ball.", -0.5, 30.0, "stop"),
    "C": (None, "A cat.", -4.0, 10.0, "stop"),
    "B1": ("B", " It is big.", -2.0, 5.0, "end_of_turn"),
    "B2": ("B", " It is small.", -0.1, 40.0, "end_of_turn"),
}


def hand_tree(tokenizer) -> tuple[SearchTree, dict[str, int]]:
    """Root -> A (final), B, C (pruned); B -> B1, B2 (final). Returns the tree and node ids by name."""
    tree = SearchTree(prompt="What is in the picture?", index=0)
    ids: dict[str, int] = {}
    for name, (parent, text, logprob, r_image, reason) in SENTENCES.items():
        node = tree.add_child(tree.nodes[ids[parent]] if parent else tree.root)
        content = tokenizer(text, add_special_tokens=False)["input_ids"]
        node.content_ids = list(content)
        node.token_ids = content + ([EOS] if reason == "end_of_turn" else [])
        node.token_logps = [logprob] + [0.0] * (len(node.token_ids) - 1)
        node.finish_reason = reason
        node.r_image = r_image
        node.pruned = name == "C"
        ids[name] = node.id
    return tree, ids
