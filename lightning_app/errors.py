"""Why a panel of a sweep is left out (a point that cannot run is ``datamodules.task.SkipPoint``)."""


class NotAvailable(Exception):
    """A panel cannot be built here (a class that cannot be imported, a method that cannot train
    its task); the sweep reports it and runs the rest."""
