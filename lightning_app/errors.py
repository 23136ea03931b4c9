"""Exceptions that tell the sweep how to record a grid point."""


class SkipPoint(Exception):
    """The point cannot be run meaningfully (e.g. all labels are zero); record it as skipped."""
