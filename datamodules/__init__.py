"""One LightningDataModule per task (docs/algorithms.md, the tasks)."""
