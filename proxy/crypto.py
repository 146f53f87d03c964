"""Secrets at rest: VK tokens are encrypted with a key derived from PROXY_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
import string
from collections import Counter

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
    # A header's bytes that are not UTF-8 come as lone surrogates: hashed as received, they match no token.
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


# --- the secret key itself -------------------------------------------------------------------------

# A key made by `proxy key generate` (proxy/key_command.py): 32 random bytes, URL-safe base64.
GENERATED_KEY_PREFIX = "pxk_"
GENERATED_KEY_BYTES = 32
MIN_KEY_BITS = 256
# Below this share of the most varied spelling its length allows, a key's characters are not a random
# draw (`aaaa...`, `abab...`, words): it is then counted by its characters' own entropy. 20,000 keys of
# each of `generate_secret_key`, `secrets.token_hex(32)` and base64 of 32 random bytes were all above 0.79.
MIN_RANDOM_VARIETY = 0.7
_HEX = frozenset(string.hexdigits)


def generate_secret_key() -> str:
    """A new PROXY_SECRET_KEY: 256 random bits."""
    return GENERATED_KEY_PREFIX + secrets.token_urlsafe(GENERATED_KEY_BYTES)


def estimated_key_bits(key: str) -> float:
    """How many random bits a key holds, at most: its length times the bits of one character of the
    alphabet its characters come from, or of their own spread when they are not a random draw."""
    key = key.rstrip("=")  # base64 padding carries nothing
    if not key:
        return 0.0
    if set(key) <= _HEX:
        alphabet = 16
    else:
        alphabet = (
            26 * any(c.islower() for c in key)
            + 26 * any(c.isupper() for c in key)
            + 10 * any(c.isdigit() for c in key)
            + 32 * any(not c.isalnum() for c in key)
        )
    counts = Counter(key).values()
    spread = -sum(n / len(key) * math.log2(n / len(key)) for n in counts)
    widest = math.log2(min(alphabet, len(key))) if len(key) > 1 else 1.0
    if spread < MIN_RANDOM_VARIETY * widest:
        return len(key) * spread
    return len(key) * math.log2(alphabet)
