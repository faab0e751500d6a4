"""Errors a user can act on; the CLI prints them without a traceback."""


class MtlbenchError(Exception):
    """Base class for errors caused by input, configuration or data."""


class ConfigError(MtlbenchError, ValueError):
    """A configuration value is wrong; the message names the key and the allowed values."""


class DataError(MtlbenchError):
    """Input data is missing, corrupt or inconsistent."""
