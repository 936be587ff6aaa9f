"""Helpers of the examples that are not part of what they teach (not tutorials themselves)."""
