"""`proxy key generate`: a new PROXY_SECRET_KEY, strong enough for production mode (proxy/settings.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from proxy.crypto import generate_secret_key


def cmd_key_generate(args: argparse.Namespace, settings: object) -> int:
    print(generate_secret_key())
    print(
        "Set it as PROXY_SECRET_KEY and keep it secret. Changing it later logs everyone out and makes the "
        "stored VK tokens unreadable (enter them again).",
        file=sys.stderr,
    )
    return 0


def register(sub: Any) -> None:
    """Add `proxy key generate` to the CLI's subparsers (nested ones inherit its parser class)."""
    key = sub.add_parser("key", help="the service's secret key").add_subparsers(
        dest="key_command", required=True
    )
    p = key.add_parser("generate", help="print a new random PROXY_SECRET_KEY (256 bits)")
    # Needs no settings: it is what makes a refused key right.
    p.set_defaults(func=cmd_key_generate, needs_settings=False)
