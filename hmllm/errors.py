"""Typed errors that the CLI turns into one clear message (no traceback)."""


class HmllmError(Exception):
    """Base class for errors a user can fix: the message names the file/field, value and fix."""


class ConfigError(HmllmError):
    """A configuration value is invalid (wrong range, unknown name, incompatible options)."""


class DataError(HmllmError):
    """An input file or table is missing, unreadable or inconsistent."""
