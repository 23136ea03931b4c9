"""The application: the LightningCLI subclass, figure grids (sweeps) and their results."""
