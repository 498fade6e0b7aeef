"""`agents.core.verify.VerificationPolicy`: which authors count as verified."""

from __future__ import annotations

import pytest

from agents.core.errors import ConfigError
from agents.core.verify import DEFAULT_VERIFIED_TYPES, VerificationPolicy
from schemas.events import Author
from tests.unit.agents.factories import make_post, make_router, make_user, route, stream_line

DEFAULT = VerificationPolicy()
GOVERNMENT = VerificationPolicy.from_names(["government"], "--verified-types")


def author(verified: bool | None, verified_type: str | None) -> Author:
    """The author record the parser builds: `verified` absent or null becomes false."""
    return {
        "id": "1",
        "username": "warga",
        "name": "Warga",
        "verified": verified is True,
        "verified_type": verified_type,
    }


def test_default_accepts_every_known_type() -> None:
    assert frozenset({"blue", "business", "government", "legacy"}) == DEFAULT_VERIFIED_TYPES
    assert DEFAULT.accepted == DEFAULT_VERIFIED_TYPES


@pytest.mark.parametrize(
    ("verified", "verified_type", "default", "government_only"),
    [
        (True, "blue", True, False),
        (False, "blue", True, False),
        (True, "business", True, False),
        (True, "government", True, True),
        (False, "government", True, True),
        # legacy: v1.1 archives and old v2 payloads carry `verified: true` with no type
        (True, None, True, False),
        (False, None, False, False),
        (None, None, False, False),
        (False, "none", False, False),
        # a type newer than this code: only the `verified` flag is left (legacy)
        (True, "platinum", True, False),
        (False, "platinum", False, False),
        (None, "Government", False, False),
    ],
)
def test_policies(
    verified: bool | None, verified_type: str | None, default: bool, government_only: bool
) -> None:
    assert DEFAULT.is_verified(author(verified, verified_type)) is default
    assert GOVERNMENT.is_verified(author(verified, verified_type)) is government_only


def test_government_only_rejects_blue_even_with_verified_true() -> None:
    assert GOVERNMENT.is_verified(author(True, "blue")) is False
    assert GOVERNMENT.is_verified(author(True, "business")) is False


def test_legacy_can_be_chosen_alone() -> None:
    legacy = VerificationPolicy.from_names(["legacy"], "ADUAN_VERIFIED_TYPES")
    assert legacy.is_verified(author(True, None)) is True
    assert legacy.is_verified(author(True, "blue")) is False


def test_from_names_normalises_case_and_blanks() -> None:
    policy = VerificationPolicy.from_names([" Government ", "BUSINESS", ""], "opt")
    assert policy.accepted == frozenset({"government", "business"})


def test_from_names_rejects_unknown_type_naming_the_source() -> None:
    with pytest.raises(ConfigError) as info:
        VerificationPolicy.from_names(["government", "gold", "grey"], "--verified-types")
    message = str(info.value)
    assert message.startswith("--verified-types: unknown verification type(s) ['gold', 'grey']")
    assert "['blue', 'business', 'government', 'legacy']" in message


@pytest.mark.parametrize("names", [[], [""], [" ", ""]])
def test_from_names_rejects_empty(names: list[str]) -> None:
    with pytest.raises(ConfigError, match=r"^ADUAN_VERIFIED_TYPES: no verification type given"):
        VerificationPolicy.from_names(names, "ADUAN_VERIFIED_TYPES")


def test_router_applies_the_policy() -> None:
    blue = stream_line(
        make_post("Tolong perbaiki jalan", id="1790000000000009999"),
        [make_user(verified=True, verified_type="blue")],
    )
    [(topic, key, event)] = route(make_router(policy=GOVERNMENT), blue, 1)
    assert topic == "mentions.rejected"
    assert key == "1790000000000009999"
    assert event["reason"] == "unverified_author"
    [(topic, _key, _event)] = route(make_router(policy=DEFAULT), blue, 1)
    assert topic == "complaints.unrouted"
