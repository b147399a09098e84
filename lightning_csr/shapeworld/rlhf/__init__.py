"""shapeworld/rlhf."""
