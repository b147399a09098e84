"""shapeworld/evaluation."""
