"""The study: every method on several independently built worlds, with intervals and a verdict per claim."""
