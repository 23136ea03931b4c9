"""Storing results: each point's result.json and the grid's results.csv, the finished points found
in a run folder, and the claims that let sweeps share one.
"""
