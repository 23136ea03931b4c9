"""LightningModules: the gated sparse MLP (docs/algorithms.md, the model)."""
