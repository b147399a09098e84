"""Parse free-form model answers into yes/no decisions for POPE-style evaluation.

Two parsers: `parse_pope_released`, the rule of POPE's released scorer that papers report (never unparsed), and
`parse_yes_no`, our stricter reading that returns None for answers that say neither.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z']+")
_YES_WORDS = frozenset(
    {"yes", "yeah", "yep", "yup", "correct", "true", "affirmative", "certainly", "definitely"}
)
_NO_WORDS = frozenset({"no", "nope", "nah", "false", "incorrect", "negative"})
_UNSURE = (
    "not sure",
    "don't know",
    "do not know",
    "cannot tell",
    "can't tell",
    "unclear",
    "unsure",
    "cannot determine",
)
_NEGATIONS = (
    "there is no",
    "there are no",
    "there isn't",
    "there aren't",
    "there is not",
    "there are not",
    "does not",
    "doesn't",
    "do not",
    "don't",
    "cannot see",
    "can't see",
    "not present",
    "not visible",
    "no such",
    "nothing",
    "absent",
)
_AFFIRMATIONS = (
    "there is",
    "there are",
    "i see",
    "i can see",
    "contains",
    "shows",
    "is present",
    "is visible",
)


def parse_yes_no(text: str) -> bool | None:
    """True for a yes, False for a no ("There is no star." -> False), None when the answer says neither."""
    lowered = " ".join(text.lower().split())
    words = _WORD.findall(lowered)
    if not words:
        return None
    if words[0] in _YES_WORDS:
        return True
    if words[0] in _NO_WORDS:
        return False
    if any(phrase in lowered for phrase in _UNSURE):
        return None
    says_yes, says_no = bool(_YES_WORDS.intersection(words)), bool(_NO_WORDS.intersection(words))
    if says_yes != says_no:
        return says_yes
    if any(phrase in lowered for phrase in _NEGATIONS):
        return False
    if any(phrase in lowered for phrase in _AFFIRMATIONS):
        return True
    return None


RELEASED_NO_WORDS: frozenset[str] = frozenset({"No", "no", "not"})


def parse_pope_released(text: str) -> bool:
    """POPE's released rule: keep the text before the first ".", drop commas, split on spaces; "no" (False) when
    a word is exactly `No`, `no` or `not`, else "yes" (True). Case and punctuation matter: "NO" and "no!" are yes."""
    first_sentence = text.split(".", 1)[0]
    words = first_sentence.replace(",", "").split(" ")
    return not RELEASED_NO_WORDS.intersection(words)
