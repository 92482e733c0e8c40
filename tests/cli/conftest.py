"""What the command-line tests share: the environment a ``kodeord`` command runs with."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).parents[2]


@pytest.fixture
def cli_env(kodeord_redis: redis.Redis, kodeord_redis_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
        "KODEORD_RULES": str(ROOT / "rules"),
        "KODEORD_LOG_LEVEL": "WARNING",
    }
