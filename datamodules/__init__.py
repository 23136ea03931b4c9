"""One LightningDataModule per task of SPEC §6."""
