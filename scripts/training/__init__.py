"""The learned scheduler's training and evaluation (docs/learned.md)."""
