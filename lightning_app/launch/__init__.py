"""Launching jobs: the sweep from start to end, the grid's jobs with their claims and progress, and
where they run (this process, worker processes, Ray).
"""
