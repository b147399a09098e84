"""shapeworld/models."""
