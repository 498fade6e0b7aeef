"""Errors reported to users: each says what was wrong, where, and how to fix it."""


class AduanError(Exception):
    """Base class of every error aduan reports to a user."""


class RegistryError(AduanError):
    """The agency registry could not be read or is invalid."""


class ConfigError(AduanError):
    """A setting or command-line option has an invalid value."""


class CalendarError(AduanError):
    """The working-day calendar file could not be read or is invalid."""


class ForgetError(AduanError):
    """A request to forget that cannot be recorded as given."""
