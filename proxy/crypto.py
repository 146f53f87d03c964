"""Secrets at rest: VK tokens are encrypted with a key derived from PROXY_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken


class SecretError(Exception):
    """A stored secret cannot be decrypted with the configured key."""


def derive_key(secret_key: str, purpose: str) -> bytes:
    """A 32-byte key for one purpose, so the session key and the token key differ."""
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).digest()


def _fernet(secret_key: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, "vk-token-encryption")))


def encrypt_token(secret_key: str, token: str) -> str:
    return _fernet(secret_key).encrypt(token.encode()).decode()


def decrypt_token(secret_key: str, encrypted: str) -> str:
    try:
        return _fernet(secret_key).decrypt(encrypted.encode()).decode()
    except InvalidToken:
        raise SecretError("a stored VK token cannot be decrypted: was PROXY_SECRET_KEY changed?") from None


def new_api_token() -> str:
    return "vkp_" + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
