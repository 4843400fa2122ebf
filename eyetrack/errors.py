"""Errors of the eye-tracking package (independent of hmllm; the batch edge converts them)."""


class GazeInputError(ValueError):
    """A gaze input (file, columns, sampling rate, geometry) cannot be used as given."""
