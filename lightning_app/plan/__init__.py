"""Planning a sweep: the grid of panels and points, each point's configuration and identity, and
the settings refused before anything runs.
"""
