"""Configuration for tortoise's own CLI: `tortoise -c proxy.tortoise_conf.TORTOISE_ORM makemigrations`."""

import os

from proxy.db import tortoise_config
from proxy.settings import DEFAULT_DATABASE_URL

TORTOISE_ORM = tortoise_config(os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL)
