"""Active-learning strategies (see issue 5)."""
