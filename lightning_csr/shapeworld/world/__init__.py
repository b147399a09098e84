"""shapeworld/world."""
