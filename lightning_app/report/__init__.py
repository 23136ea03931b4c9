"""Reporting: the paper's tables, heatmaps, spread over seeds, curves, figures, summary.md, and
results rebuilt from TensorBoard events.
"""
