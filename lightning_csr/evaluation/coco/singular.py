"""Rule-based English singulariser for object nouns (no NLTK data needed)."""

from __future__ import annotations

IRREGULAR_PLURALS: dict[str, str] = {
    "people": "person",
    "persons": "person",
    "men": "man",
    "women": "woman",
    "children": "child",
    "mice": "mouse",
    "geese": "goose",
    "teeth": "tooth",
    "feet": "foot",
    "oxen": "ox",
    "dice": "die",
    "lice": "louse",
    "cacti": "cactus",
    "knives": "knife",
    "wives": "wife",
    "lives": "life",
    "leaves": "leaf",
    "loaves": "loaf",
    "shelves": "shelf",
    "wolves": "wolf",
    "calves": "calf",
    "halves": "half",
    "scarves": "scarf",
    "thieves": "thief",
    "buses": "bus",
    "busses": "bus",
    "potatoes": "potato",
    "tomatoes": "tomato",
    "heroes": "hero",
    "mangoes": "mango",
    "volcanoes": "volcano",
    "dominoes": "domino",
    "taxis": "taxi",
    "skis": "ski",
    "kiwis": "kiwi",
    "bikinis": "bikini",
    "semis": "semi",
}

# Words that look plural but are not (or are the same in both numbers).
INVARIANT: frozenset[str] = frozenset(
    {
        "scissors", "pants", "jeans", "shorts", "clothes", "species", "series", "news",
        "sheep", "deer", "fish", "aircraft", "moose", "bison", "cattle", "binoculars", "tongs",
        "tennis", "chassis", "lettuce", "hummus", "asparagus", "octopus", "cactus", "walrus", "bus",
        "ferris", "always", "perhaps", "various", "across", "whereas", "towards", "afterwards",
    }
)  # fmt: skip

# Singular forms ending in "ie" / "che" whose plurals must only lose the final "s".
_KEEP_E: frozenset[str] = frozenset(
    {
        "cookies", "movies", "brownies", "hoodies", "goalies", "rookies", "selfies", "veggies",
        "smoothies", "zombies", "calories", "prairies", "birdies", "doggies", "aunties", "collies",
        "ties", "pies", "lies", "headaches", "niches", "caches", "quiches", "avalanches", "mustaches",
        "moustaches", "cliches",
    }
)  # fmt: skip

_MEN_EXCEPTIONS: frozenset[str] = frozenset({"specimen", "omen", "abdomen", "stamen", "semen", "amen"})


def singularize(word: str) -> str:
    """Return the singular form of a lower-case English noun (unchanged if it is not plural)."""
    if word in IRREGULAR_PLURALS:
        return IRREGULAR_PLURALS[word]
    if word in INVARIANT or len(word) <= 3:
        return word
    if word.endswith("men") and word not in _MEN_EXCEPTIONS:
        return word[:-3] + "man"
    if word in _KEEP_E:
        return word[:-1]
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zzes")):
        return word[:-2]
    if word.endswith(("ss", "us", "is", "ous")):
        return word
    if word.endswith("s"):
        return word[:-1]
    return word
