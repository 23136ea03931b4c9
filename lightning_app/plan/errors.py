"""Why a panel of a sweep is left out (a point that cannot run is ``datamodules.task.SkipPoint``),
and why a sweep is refused before any point runs."""


class NotAvailable(Exception):
    """A panel cannot be built here (a class that cannot be imported, a method that cannot train
    its task); the sweep reports it and runs the rest."""


class SettingsError(ValueError):
    """A setting that cannot give a meaningful result; the message names it and what to use."""
