"""Label order of the model's outputs (imported by the handler by bare name)."""

LABELS = ["entailed", "neutral", "contradictory"]
