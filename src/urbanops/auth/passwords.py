"""Password hashing (口令) with Argon2, so a stolen table does not give away passwords."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

_hasher = PasswordHash((Argon2Hasher(),))

#: Stored for accounts that must not sign in with a password (service accounts, test users).
UNUSABLE = "!"


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` with a fresh salt."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """Whether ``password`` matches ``password_hash``; a malformed hash never matches."""
    if not password_hash or password_hash == UNUSABLE:
        burn_time(password)
        return False
    try:
        return _hasher.verify(password, password_hash)
    except Exception:  # a corrupt stored hash must read as "no", never as a 500
        return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash("urbanops-timing-equaliser")


def burn_time(password: str) -> None:
    """Verify against a dummy hash so an unknown user costs as long as a known one."""
    _hasher.verify(password, _dummy_hash())
