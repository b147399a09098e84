"""shapeworld/comparison."""
