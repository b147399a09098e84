"""shapeworld/build."""
