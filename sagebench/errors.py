"""Exception types. Every error names the file or entry it is about and what to do next."""


class SagebenchError(Exception):
    """Base class of all sagebench errors."""


class DataError(SagebenchError):
    """A dataset is malformed: missing counterpart, size mismatch, unreadable or unsupported file."""


class WeightsError(SagebenchError):
    """Weights cannot be found, downloaded or verified."""


class ConfigError(SagebenchError):
    """A config or CLI argument is invalid."""


class WriteError(SagebenchError):
    """A file could not be written (disk full, permission denied, a file where a folder should be)."""


class UnknownNameError(ConfigError, KeyError):
    """A registered name (fusion model, task, metric) that does not exist. Also a ``KeyError``, as a
    registry lookup is; its text is the message itself (not ``KeyError``'s quoted repr)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ImageSizeError(DataError, ValueError):
    """An image is smaller than a method or metric accepts (also a ``ValueError``, as a bad argument is)."""
