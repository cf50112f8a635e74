"""A token that never prints: ``repr``, ``str`` and f-strings show asterisks.

Read it once from its file; only the code that puts it on the wire calls ``reveal()``.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from station.errors import ConfigError


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(
            self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple:
        raise TypeError("a Secret is not pickled (it would end up on disk in clear)")

    @classmethod
    def from_file(cls, path: str | Path) -> Secret:
        """The first line of ``path``; a clear error (without the content) when unusable."""
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise ConfigError(f"{p}: token file not found ([sync] token_file)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{p}: cannot read the token file ({type(exc).__name__})") from None
        if not text or "\n" in text:
            raise ConfigError(f"{p}: the token file must hold exactly one token")
        return cls(text)
