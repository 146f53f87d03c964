"""Settings read once from the environment, with embedded defaults for a first run."""

from __future__ import annotations

import ipaddress
import os
import re
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from proxy.audit.signing import JournalKey
from proxy.connectors.base import CALLBACK_READ_SECONDS, CALLBACK_REFUSAL_DELAY, MAX_CALLBACK_BYTES


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


DEFAULT_DATABASE_URL = "sqlite://data/proxy.sqlite3"
# Only ever used outside production mode, so that `make run` works on a fresh machine. It is public (the
# README names it): anyone can forge a session cookie with it, so production refuses it.
DEVELOPMENT_SECRET_KEY = "development-only-secret-key-change-me"
# Keys anyone may have read: production refuses them whatever their strength.
PUBLIC_SECRET_KEYS = frozenset({DEVELOPMENT_SECRET_KEY})
GENERATE_KEY_HINT = "generate one with `proxy key generate`"
# Where pages may load images from (CSP img-src, web/attachments.py): VK's photo and sticker servers.
DEFAULT_IMAGE_HOSTS = ("*.userapi.com", "*.vkuserphoto.ru", "*.vk-cdn.net", "vk.com", "*.vk.com")


def _int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None


def _seconds(env: dict[str, str], name: str, default: float, *, zero: bool = False) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not (0 <= value if zero else 0 < value) or value == float("inf"):
        raise SettingsError(f"{name} must be {'0 or more' if zero else 'more than 0'}, got {raw!r}")
    return value


def _bool(env: dict[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


def _networks(env: dict[str, str], name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated addresses or networks (`10.0.0.5`, `10.0.0.0/24`, `fd00::/8`)."""
    networks = []
    for part in (env.get(name) or "").split(","):
        if part.strip():
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise SettingsError(f"{name} must list IP addresses or networks, got {part.strip()!r}") from None
    return tuple(networks)


_HOST_PATTERN = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


def _hosts(env: dict[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Comma-separated host names, each exact (`vk.com`) or every host under a domain (`*.userapi.com`)."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    hosts = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    for host in hosts:
        if not _HOST_PATTERN.match(host):
            raise SettingsError(f"{name} must list host names such as vk.com or *.userapi.com, got {host!r}")
    return hosts


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything configurable about one instance of the service."""

    database_url: str = DEFAULT_DATABASE_URL
    secret_key: str = DEVELOPMENT_SECRET_KEY
    production: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    timezone: str = "Europe/Moscow"
    public_url: str = "http://127.0.0.1:8080"
    # Runs the in-process VK emulator with a demo community when no real community is configured.
    demo: bool = False
    # Background workers (outbox, long poll); tests switch them off to drive them by hand.
    workers: bool = True
    vk_api_base: str | None = None
    # Where Telegram's Bot API calls go instead of Telegram (the demo's and the tests' emulator).
    telegram_api_base: str | None = None
    demo_emulator_port: int = 8090
    # The demo's emulated Telegram Bot API (tg_emulator) listens here.
    demo_telegram_port: int = 8091
    # Seconds between two actions of the demo's traffic (proxy/demo.py): a round of every kind takes
    # twelve of them.
    demo_step_seconds: float = 8.0
    # The largest Callback API body accepted (413 past it), how long its body may take to arrive, and how
    # long a refused callback waits for its answer.
    callback_max_bytes: int = MAX_CALLBACK_BYTES
    callback_read_seconds: float = CALLBACK_READ_SECONDS
    callback_refusal_delay: float = CALLBACK_REFUSAL_DELAY
    # Load balancers whose X-Forwarded-For names the client (web/client_address.py); none by default.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # Hosts attachment images are shown from (and the only ones CSP's img-src allows); others are links.
    image_hosts: tuple[str, ...] = DEFAULT_IMAGE_HOSTS
    # The journal's signing key (docs/audit.md "Checkpoints"), kept outside the database; None: no MACs on
    # new entries and no checkpoints. Checkpoints are written into the directory and/or posted to the
    # webhook every interval seconds when the interval is more than 0 (off by default).
    journal_key: JournalKey | None = None
    journal_checkpoint_dir: str | None = None
    journal_checkpoint_webhook: str | None = None
    journal_checkpoint_interval: float = 0.0
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read settings from the environment; raise SettingsError with a one-line reason."""
        env = dict(os.environ if environ is None else environ)
        production = _bool(env, "PROXY_PRODUCTION", False)
        secret_key = env.get("PROXY_SECRET_KEY", "")
        if not secret_key:
            if production:
                raise SettingsError("PROXY_SECRET_KEY must be set in production mode (PROXY_PRODUCTION=true)")
            secret_key = DEVELOPMENT_SECRET_KEY
        elif len(secret_key) < 16:
            raise SettingsError("PROXY_SECRET_KEY must be at least 16 characters long")
        if production:
            check_production_key(secret_key)
        host = env.get("PROXY_HOST", "127.0.0.1")
        port = _int(env, "PROXY_PORT", 8080)
        if not 0 < port < 65536:
            raise SettingsError(f"PROXY_PORT must be between 1 and 65535, got {port}")
        tz = env.get("PROXY_TIMEZONE", "Europe/Moscow")
        try:
            zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"PROXY_TIMEZONE is not a known time zone: {tz!r}") from None
        callback_max_bytes = _int(env, "PROXY_CALLBACK_MAX_BYTES", MAX_CALLBACK_BYTES)
        if callback_max_bytes < 64 * 1024:
            raise SettingsError(f"PROXY_CALLBACK_MAX_BYTES must be at least 65536, got {callback_max_bytes}")
        database_url = env.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        check_database_url(database_url)
        values: dict[str, object] = dict(
            database_url=database_url,
            secret_key=secret_key,
            production=production,
            host=host,
            port=port,
            timezone=tz,
            public_url=env.get("PROXY_PUBLIC_URL") or f"http://{host}:{port}",
            demo=_bool(env, "PROXY_DEMO", False),
            workers=_bool(env, "PROXY_WORKERS", True),
            vk_api_base=env.get("PROXY_VK_API_BASE") or None,
            telegram_api_base=env.get("PROXY_TELEGRAM_API_BASE") or None,
            demo_emulator_port=_int(env, "PROXY_DEMO_EMULATOR_PORT", 8090),
            demo_telegram_port=_int(env, "PROXY_DEMO_TELEGRAM_PORT", 8091),
            demo_step_seconds=_seconds(env, "PROXY_DEMO_STEP_SECONDS", 8.0),
            callback_max_bytes=callback_max_bytes,
            callback_read_seconds=_seconds(env, "PROXY_CALLBACK_READ_SECONDS", CALLBACK_READ_SECONDS),
            callback_refusal_delay=_seconds(
                env, "PROXY_CALLBACK_REFUSAL_DELAY", CALLBACK_REFUSAL_DELAY, zero=True
            ),
            trusted_proxies=_networks(env, "PROXY_TRUSTED_PROXIES"),
            image_hosts=_hosts(env, "PROXY_IMAGE_HOSTS", DEFAULT_IMAGE_HOSTS),
            **_journal_checkpoints(env),
        )
        if values["demo"] and not values["vk_api_base"]:
            # The demo's emulated VK runs in-process on this port (proxy/demo.py).
            values["vk_api_base"] = f"http://127.0.0.1:{values['demo_emulator_port']}"
        if values["demo"] and not values["telegram_api_base"]:
            values["telegram_api_base"] = f"http://127.0.0.1:{values['demo_telegram_port']}"
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def read_journal_key(env: dict[str, str]) -> JournalKey | None:
    """PROXY_JOURNAL_KEY (the key's text) or PROXY_JOURNAL_KEY_FILE (a file holding it), not both."""
    from proxy.audit.signing import KeyFormatError, parse_private

    text, path = env.get("PROXY_JOURNAL_KEY") or "", env.get("PROXY_JOURNAL_KEY_FILE") or ""
    if text and path:
        raise SettingsError("set PROXY_JOURNAL_KEY or PROXY_JOURNAL_KEY_FILE, not both")
    name = "PROXY_JOURNAL_KEY"
    if path:
        name = "PROXY_JOURNAL_KEY_FILE"
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise SettingsError(f"PROXY_JOURNAL_KEY_FILE: cannot read {path}: {exc.strerror}") from None
    if not text.strip():
        return None
    try:
        return parse_private(text)
    except KeyFormatError as exc:
        raise SettingsError(f"{name}: {exc} ({JOURNAL_KEY_HINT})") from None


JOURNAL_KEY_HINT = "generate one with `proxy journal key generate FILE`"


def _journal_checkpoints(env: dict[str, str]) -> dict[str, object]:
    key = read_journal_key(env)
    directory = env.get("PROXY_JOURNAL_CHECKPOINT_DIR") or None
    webhook = env.get("PROXY_JOURNAL_CHECKPOINT_WEBHOOK") or None
    interval = _seconds(env, "PROXY_JOURNAL_CHECKPOINT_INTERVAL", 0.0, zero=True)
    if webhook and not webhook.startswith(("http://", "https://")):
        raise SettingsError(f"PROXY_JOURNAL_CHECKPOINT_WEBHOOK must be an http(s) URL, got {webhook!r}")
    if interval:
        if key is None:
            raise SettingsError(
                f"PROXY_JOURNAL_CHECKPOINT_INTERVAL needs a journal key (PROXY_JOURNAL_KEY_FILE): {JOURNAL_KEY_HINT}"
            )
        if not directory and not webhook:
            raise SettingsError(
                "PROXY_JOURNAL_CHECKPOINT_INTERVAL needs PROXY_JOURNAL_CHECKPOINT_DIR or "
                "PROXY_JOURNAL_CHECKPOINT_WEBHOOK: where the checkpoints go"
            )
    return dict(
        journal_key=key,
        journal_checkpoint_dir=directory,
        journal_checkpoint_webhook=webhook,
        journal_checkpoint_interval=interval,
    )


def check_production_key(secret_key: str) -> None:
    """Refuse a key that does not keep sessions and VK tokens secret: a public one, or under 256 bits."""
    from proxy.crypto import MIN_KEY_BITS, estimated_key_bits

    if secret_key in PUBLIC_SECRET_KEYS:
        raise SettingsError(
            f"PROXY_SECRET_KEY is the public development key, refused in production mode: {GENERATE_KEY_HINT}"
        )
    bits = estimated_key_bits(secret_key)
    if bits < MIN_KEY_BITS:
        raise SettingsError(
            f"PROXY_SECRET_KEY is too weak for production mode (about {int(bits)} random bits, at least "
            f"{MIN_KEY_BITS} needed): {GENERATE_KEY_HINT}"
        )


def startup_warnings(settings: Settings) -> list[str]:
    """What an instance must say loudly when it starts: running without production mode's checks."""
    if settings.production:
        return []
    key = (
        "the public development key" if settings.secret_key in PUBLIC_SECRET_KEYS else "a key not checked for strength"
    )
    return [
        f"NOT IN PRODUCTION MODE: sessions and VK tokens are protected by {key}. Never expose this instance; "
        f"for real use set PROXY_PRODUCTION=true and a PROXY_SECRET_KEY ({GENERATE_KEY_HINT})."
    ]


def check_database_url(url: str) -> None:
    """Refuse a DATABASE_URL we cannot use, before anything tries to connect."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in ("sqlite", "postgres", "postgresql", "asyncpg"):
        raise SettingsError(
            f"DATABASE_URL must start with sqlite://, postgres:// or postgresql://, got {url!r}"
        )
    if scheme == "sqlite":
        path = url.split("://", 1)[1].split("?", 1)[0]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
