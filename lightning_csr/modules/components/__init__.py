"""modules/components."""
