"""The other systems of the seed papers, as models beside the two-stage pipeline (issue 19)."""
