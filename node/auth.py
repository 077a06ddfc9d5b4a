"""Password and token secrets, as Iggy 0.8 keeps them.

Passwords are Argon2id PHC strings with the argon2 crate's defaults (m=19456 KiB,
t=2, p=1), so a hash written by either server verifies on the other. Personal
access tokens are 50 random bytes in padded base64, shown once; only their BLAKE3
hex digest is stored. Hashing is slow on purpose: callers on the event loop run
it in a thread (:func:`hash_password_async`, :func:`verify_password_async`).
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import string

import blake3
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "hash_password",
    "verify_password",
    "hash_password_async",
    "verify_password_async",
    "new_token",
    "token_hash",
    "random_password",
]

_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def hash_password_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(None, hash_password, password)


async def verify_password_async(password_hash: str, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(None, verify_password, password_hash, password)


def new_token() -> str:
    """A fresh raw personal access token (68 characters)."""
    return base64.b64encode(secrets.token_bytes(50)).decode()


def token_hash(token: str) -> str:
    return blake3.blake3(token.encode()).hexdigest()


def random_password() -> str:
    """A root password as Iggy makes one when none is configured: 20-39 alphanumerics."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(20 + secrets.randbelow(20)))
