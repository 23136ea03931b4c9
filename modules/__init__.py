"""LightningModules: the gated sparse MLP of SPEC §1."""
