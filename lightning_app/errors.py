"""Exceptions that tell the sweep how to record a grid point."""


class SkipPoint(Exception):
    """The point cannot be run meaningfully (e.g. all labels are zero); record it as skipped."""


class NotAvailable(Exception):
    """A panel needs a capability that is not built yet; the sweep reports it and runs the rest."""
