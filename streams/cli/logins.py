"""What `aduan agencies grant|revoke` and `aduan services grant|revoke` print."""

from __future__ import annotations

import sys
from pathlib import Path

from streams.settings import Settings


def say_granted(rights: str, made: bool, password_file: Path) -> int:
    where = "made and written to" if made else "read from"
    print(f"{rights}; its password was {where} {password_file}", file=sys.stderr)
    return 0


def revoke_login(settings: Settings, user: str) -> int:
    from streams.kafka.access import revoke

    revoke(settings, user)
    print(f"{user} has no login and no rights any more", file=sys.stderr)
    return 0
