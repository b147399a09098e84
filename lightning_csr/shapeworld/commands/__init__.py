"""shapeworld/commands."""
