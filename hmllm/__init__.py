"""hmllm — measure and predict how audiences respond to video ads, shot by shot."""

__version__ = "0.1.0"
