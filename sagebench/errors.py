"""Exception types. Every error names the file or entry it is about and what to do next."""


class SagebenchError(Exception):
    """Base class of all sagebench errors."""


class DataError(SagebenchError):
    """A dataset is malformed: missing counterpart, size mismatch, unreadable or unsupported file."""


class WeightsError(SagebenchError):
    """Weights cannot be found, downloaded or verified."""


class ConfigError(SagebenchError):
    """A config or CLI argument is invalid."""
