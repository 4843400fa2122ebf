"""``hmllm serve``: the upload web app for creative testers (FastAPI + SQLite job store)."""

from hmllm.serve.app import create_app
from hmllm.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]
