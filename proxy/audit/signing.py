"""The journal's signing key, kept outside the database, and C2SP signed notes made with it.

Key texts follow the signed-note ecosystem's encoding (as Go's sumdb/note writes them), so that other
tools can read them:

- private: `PRIVATE+KEY+<name>+<key id, 8 hex digits>+<base64(0x01 || 32-byte Ed25519 seed)>`
- public (verifier key): `<name>+<key id>+<base64(0x01 || 32-byte Ed25519 public key)>`

key id = the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key). A signed note is a text ending
in a newline, a blank line, then lines `— <name> <base64(key id || 64-byte signature)>`.

The same key also gives the secret the journal's MACs use (`mac_secret`): derived with HKDF, so the MAC
secret tells nothing about the signing key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_PRIVATE_PREFIX = "PRIVATE+KEY+"
_MAC_INFO = b"proxy journal entry mac v1"


class KeyFormatError(ValueError):
    """A key text that is not a journal key; the message says what is wrong, never the key."""


class NoteError(ValueError):
    """A signed note that is malformed or not signed by the expected key."""


def strict_b64decode(text: str) -> bytes:
    """Standard base64 in its one canonical spelling (binascii.Error otherwise): unused bits zero, padded.

    A lenient decoder accepts several spellings of the same bytes, so a changed character could go unseen.
    """
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode() != text:
        raise binascii.Error("not canonical base64")
    return raw


def check_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise KeyFormatError(f"a key name must be non-empty, without spaces or '+', got {name!r}")
    return name


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public).digest()[:4]


def _raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class Verifier:
    """A public key and its name: what checks checkpoints, shareable with anyone."""

    name: str
    public: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public)

    def text(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + self.public).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class JournalKey:
    """The private signing key and its name (which is also the checkpoints' origin)."""

    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> JournalKey:
        private = Ed25519PrivateKey.generate()
        seed = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return cls(check_name(name), seed)

    @property
    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, _raw_public(self._private.public_key()))

    def text(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + self.seed).decode()
        return f"{_PRIVATE_PREFIX}{self.name}+{self.verifier.key_id.hex()}+{encoded}"

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def mac_secret(self) -> bytes:
        """The secret of the journal entries' HMAC, derived from the seed (HKDF-SHA256)."""
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_MAC_INFO).derive(self.seed)

    def __repr__(self) -> str:  # never print the seed
        return f"JournalKey({self.name!r}, key id {self.verifier.key_id.hex()})"


def _split_key(text: str, parts_wanted: int, what: str) -> list[str]:
    parts = text.strip().split("+", parts_wanted - 1)  # base64 may hold "+"
    if len(parts) != parts_wanted:
        raise KeyFormatError(f"not a {what}: expected {parts_wanted} parts separated by '+'")
    return parts


def _key_bytes(encoded: str, what: str) -> bytes:
    try:
        raw = strict_b64decode(encoded)
    except (binascii.Error, ValueError):
        raise KeyFormatError(f"not a {what}: the key data is not base64") from None
    if len(raw) != 33 or raw[0] != ED25519:
        raise KeyFormatError(f"not a {what}: only Ed25519 keys (33 bytes, type 0x01) are supported")
    return raw[1:]


def parse_private(text: str) -> JournalKey:
    what = "journal signing key (PRIVATE+KEY+name+id+data)"
    if not text.strip().startswith(_PRIVATE_PREFIX):
        raise KeyFormatError(f"not a {what}")
    _, _, name, hex_id, encoded = _split_key(text, 5, what)
    key = JournalKey(check_name(name), _key_bytes(encoded, what))
    if key.verifier.key_id.hex() != hex_id.lower():
        raise KeyFormatError(f"not a {what}: its key id does not match its key")
    return key


def parse_verifier(text: str) -> Verifier:
    what = "journal public key (name+id+data)"
    if text.strip().startswith(_PRIVATE_PREFIX):
        raise KeyFormatError("that is the private key; give the public one (`proxy journal key public`)")
    name, hex_id, encoded = _split_key(text, 3, what)
    verifier = Verifier(check_name(name), _key_bytes(encoded, what))
    if verifier.key_id.hex() != hex_id.lower():
        raise KeyFormatError(f"not a {what}: its key id does not match its key")
    return verifier


def sign_note(text: str, key: JournalKey) -> str:
    """The signed note of `text` (which must end in a newline and hold no blank line)."""
    if not text.endswith("\n") or "\n\n" in text or any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a note's text must end in a newline, without blank lines or control characters")
    signature = base64.b64encode(key.verifier.key_id + key.sign(text.encode())).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{key.name} {signature}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The note's text if a signature line of `verifier`'s key verifies; NoteError saying why not."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures")
    text, signature_lines = note[: cut + 1], note[cut + 2 :].splitlines()
    if not signature_lines:
        raise NoteError("not a signed note: no signature lines")
    for line in signature_lines:
        if not line.startswith(SIGNATURE_PREFIX) or line.count(" ") != 2:
            raise NoteError(f"malformed signature line {line!r}")
        name, encoded = line[len(SIGNATURE_PREFIX) :].split(" ")
        try:
            raw = strict_b64decode(encoded)
        except (binascii.Error, ValueError):
            raise NoteError(f"malformed signature line {line!r}") from None
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue  # another key's signature (a witness, say): not ours to judge
        if len(raw) != 68 or not verifier.verify(text.encode(), raw[4:]):
            raise NoteError(f"the signature of {name} (key id {verifier.key_id.hex()}) is not valid")
        return text
    raise NoteError(f"no signature by {verifier.name} (key id {verifier.key_id.hex()})")
