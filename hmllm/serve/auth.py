"""Access: API tokens mapped to users, from a JSON file and/or the ``HMLLM_TOKENS`` env variable.

``tokens.json`` maps a token (or, better, ``"sha256:<hex of the token>"``) to a user name. Only
SHA-256 digests are kept in memory, and ``hash_token`` prints what to put in the file, so plain
tokens need not be stored at rest. A request is authenticated by ``Authorization: Bearer <token>``
or by the ``hmllm_token`` cookie the login page sets (HttpOnly, SameSite=Strict).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from pathlib import Path

from hmllm.errors import ConfigError

COOKIE = "hmllm_token"
_USER = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")
_MIN_TOKEN_CHARS = 16  # shorter tokens are guessable; refuse them at start-up


def hash_token(token: str) -> str:
    """Return the at-rest form of a token: ``"sha256:<hex digest>"``."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()


class TokenAuth:
    """Resolve a presented token to its user by comparing SHA-256 digests in constant time."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self._digests: dict[str, str] = {}
        for key, user in tokens.items():
            if not isinstance(user, str) or not _USER.match(user):
                raise ConfigError(
                    f"token user name {user!r} is invalid; use 1-64 of A-Z a-z 0-9 _ . @ -."
                )
            if key.startswith("sha256:"):
                digest = key.removeprefix("sha256:").lower()
                if not _HEX.match(digest):
                    raise ConfigError(
                        f"token entry {key[:15]}... is not 'sha256:' + 64 hex digits."
                    )
            else:
                if len(key) < _MIN_TOKEN_CHARS:
                    raise ConfigError(
                        f"a token of user {user!r} has {len(key)} characters; use at least "
                        f"{_MIN_TOKEN_CHARS} (e.g. `python -c 'import secrets; print(secrets.token_urlsafe())'`)."
                    )
                digest = hash_token(key).removeprefix("sha256:")
            self._digests[digest] = user

    @property
    def users(self) -> set[str]:
        """All configured user names."""
        return set(self._digests.values())

    def user_for(self, token: str | None) -> str | None:
        """Return the user of ``token``, or ``None`` when missing or unknown."""
        if not token:
            return None
        digest = hashlib.sha256(token.encode()).hexdigest()
        found = None
        for known, user in self._digests.items():  # no early exit: timing does not leak a prefix
            if hmac.compare_digest(known, digest):
                found = user
        return found


def load_tokens(tokens_file: Path | None, env: str | None = None) -> dict[str, str]:
    """Read ``{token: user}`` from ``tokens_file`` (if it exists) and ``HMLLM_TOKENS``.

    ``HMLLM_TOKENS`` is ``token:user,token2:user2`` (or a JSON object).

    Raises
    ------
    ConfigError
        If the file or the variable cannot be parsed.
    """
    tokens: dict[str, str] = {}
    if tokens_file is not None and Path(tokens_file).is_file():
        try:
            data = json.loads(Path(tokens_file).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(
                f"serve.tokens_file={str(tokens_file)!r} is not valid JSON ({exc})."
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"serve.tokens_file={str(tokens_file)!r} must hold a JSON object token -> user."
            )
        tokens.update({str(k): v for k, v in data.items()})
    env = os.environ.get("HMLLM_TOKENS") if env is None else env
    if env:
        env = env.strip()
        if env.startswith("{"):
            try:
                tokens.update(json.loads(env))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"HMLLM_TOKENS is not valid JSON ({exc}).") from None
        else:
            for pair in filter(None, (p.strip() for p in env.split(","))):
                token, sep, user = pair.rpartition(":")
                if not sep or not token:
                    raise ConfigError(
                        "HMLLM_TOKENS must be 'token:user,token2:user2'; an entry has no ':user'."
                    )
                tokens[token] = user
    return tokens
