"""A small client for an LLM judge behind any OpenAI-compatible chat-completions API."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

RETRY_STATUS = frozenset({408, 409, 429})


@dataclass
class JudgeSettings:
    """Where the judge lives and how to call it; the API key is read from the env var `api_key_env`."""

    base_url: str
    model: str
    api_key_env: str | None = "OPENAI_API_KEY"
    temperature: float = 0.0
    max_tokens: int = 1024
    timeout_s: float = 120.0
    max_retries: int = 5
    backoff_s: float = 1.0
    max_backoff_s: float = 60.0
    max_concurrency: int = 4
    cache_path: str | None = None

    def __post_init__(self) -> None:
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {self.base_url!r}")
        if self.max_retries < 0 or self.max_concurrency < 1 or self.backoff_s < 0:
            raise ValueError("max_retries >= 0, max_concurrency >= 1 and backoff_s >= 0 are required")


class JudgeError(RuntimeError):
    """The judge could not be reached or kept answering with errors or unreadable replies."""


class _Transient(Exception):
    """A failure worth retrying (connection, timeout, 429, 5xx, unreadable body)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JudgeClient:
    """Sends prompts to the judge with retries, back-off, a concurrency limit and a disk cache."""

    def __init__(self, config: JudgeSettings, sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._sleep = sleep
        self._api_key = _read_key(config.api_key_env)
        self._cache = JudgeCache(config.cache_path) if config.cache_path else None
        self.requests_sent = 0

    def __repr__(self) -> str:
        return f"JudgeClient({self.config!r})"

    def complete(self, prompt: str) -> str:
        """The judge's reply to one user prompt (from the cache when already paid for)."""
        key = cache_key(self.config.model, prompt)
        if self._cache is not None and (cached := self._cache.get(key)) is not None:
            return cached
        reply = self._redact(self._with_retries(prompt))
        if self._cache is not None:
            self._cache.put(key, self.config.model, reply)
        return reply

    def complete_many(
        self, prompts: Sequence[str], return_exceptions: bool = False
    ) -> list[str | JudgeError]:
        """Replies in prompt order, at most `max_concurrency` requests at a time."""

        def call(prompt: str) -> str | JudgeError:
            try:
                return self.complete(prompt)
            except JudgeError as error:
                if return_exceptions:
                    return error
                raise

        with ThreadPoolExecutor(max_workers=self.config.max_concurrency) as pool:
            return list(pool.map(call, prompts))

    def _with_retries(self, prompt: str) -> str:
        """One prompt, retried with exponential back-off on transient failures."""
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            try:
                return self._post(prompt)
            except _Transient as error:
                if attempt + 1 == attempts:
                    raise JudgeError(
                        f"judge at {self.config.base_url} failed after {attempts} attempts: {self._redact(str(error))}"
                    ) from None
                delay = min(self.config.max_backoff_s, self.config.backoff_s * 2**attempt)
                if error.retry_after is not None:
                    delay = min(self.config.max_backoff_s, max(delay, error.retry_after))
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _post(self, prompt: str) -> str:
        """One chat-completions request; returns the message text."""
        body = {
            "model": self.config.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        url = self.config.base_url.rstrip("/") + "/chat/completions"
        request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
        self.requests_sent += 1
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            detail = self._redact(error.read()[:300].decode("utf-8", errors="replace"))
            if error.code in RETRY_STATUS or error.code >= 500:
                raise _Transient(f"HTTP {error.code}: {detail}", _retry_after(error)) from None
            raise JudgeError(f"judge at {url} answered HTTP {error.code}: {detail}") from None
        except (OSError, TimeoutError) as error:
            raise _Transient(f"connection error: {error}") from None
        return _message_text(raw)

    def _redact(self, text: str) -> str:
        """Never let the API key reach logs, caches or results, even if a server echoes it."""
        return text.replace(self._api_key, "***") if self._api_key else text


def _read_key(env_name: str | None) -> str | None:
    """The API key from the named environment variable (None when no key is configured)."""
    if env_name is None:
        return None
    key = os.environ.get(env_name)
    if not key:
        raise JudgeError(f"environment variable {env_name} (the judge API key) is not set")
    return key


def _retry_after(error: urllib.error.HTTPError) -> float | None:
    """Seconds from a Retry-After header, if it holds a number."""
    value = error.headers.get("Retry-After") if error.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _message_text(raw: bytes) -> str:
    """The first choice's message content, or a retryable error for an unreadable body."""
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise _Transient(f"unreadable response: {raw[:200]!r}") from None
    if not isinstance(content, str):
        raise _Transient("unreadable response: message content is not text")
    return content


def cache_key(model: str, prompt: str) -> str:
    """Stable hash of (model, prompt)."""
    return hashlib.sha256(json.dumps([model, prompt]).encode("utf-8")).hexdigest()


class JudgeCache:
    """JSON file of judge replies keyed by `cache_key`; every write replaces the file atomically."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, str]] = {}
        if self.path.exists():
            try:
                self._entries = json.loads(self.path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as error:
                raise ValueError(f"{self.path}: judge cache is not valid JSON ({error.msg})") from error

    def get(self, key: str) -> str | None:
        """The cached reply for `key`, if any."""
        with self._lock:
            entry = self._entries.get(key)
        return None if entry is None else entry["response"]

    def put(self, key: str, model: str, response: str) -> None:
        """Store a reply and rewrite the cache file (temp file + rename)."""
        with self._lock:
            self._entries[key] = {"model": model, "response": response}
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name, suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as stream:
                    json.dump(self._entries, stream, indent=1, sort_keys=True)
                    stream.flush()
                    os.fsync(stream.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
