"""Errors of the EEG package (independent of hmllm; the batch edge converts them)."""


class EEGInputError(ValueError):
    """An EEG input (file, sampling rate, channel set, trigger) cannot be used as given."""
