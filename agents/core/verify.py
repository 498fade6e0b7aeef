"""The verification policy: which authors count as verified, and so are served.

X's `verified_type` values today (X API v2 user field):
- `blue`: a paid X Premium subscription (since 2023); X checks a phone number, not an identity.
- `business`: a Verified Organization (gold check), a paid organisation subscription.
- `government`: a government or multilateral organisation or official (grey check).
- `none`: not verified.
`legacy` is ours, not X's: `verified: true` with no `verified_type` (or `none`, or a type newer than
this code), as in v1.1 archives from before 2023, when the blue check meant an identity reviewed by
Twitter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from agents.core.errors import ConfigError
from schemas.events import Author

VerifiedType = Literal["blue", "business", "government", "legacy"]
VERIFIED_TYPES: frozenset[str] = frozenset(get_args(VerifiedType))
X_TYPES = frozenset({"blue", "business", "government"})
DEFAULT_VERIFIED_TYPES: frozenset[str] = VERIFIED_TYPES


@dataclass(frozen=True, slots=True)
class VerificationPolicy:
    """Accepts an author whose verification type is one of `accepted`."""

    accepted: frozenset[str] = DEFAULT_VERIFIED_TYPES

    @classmethod
    def from_names(cls, names: Iterable[str], source: str) -> VerificationPolicy:
        """Build from type names such as ["government"]; `source` names the option in errors."""
        accepted = frozenset(name.strip().lower() for name in names if name.strip())
        unknown = accepted - VERIFIED_TYPES
        if unknown:
            raise ConfigError(
                f"{source}: unknown verification type(s) {sorted(unknown)}; "
                f"choose from {sorted(VERIFIED_TYPES)}"
            )
        if not accepted:
            raise ConfigError(
                f"{source}: no verification type given, so every author would be rejected; "
                f"choose from {sorted(VERIFIED_TYPES)}"
            )
        return cls(accepted)

    def is_verified(self, author: Author) -> bool:
        verified_type = author["verified_type"]
        if verified_type in X_TYPES:
            # A known type decides on its own: `verified: true` must not let a blue check through
            # a government-only policy.
            return verified_type in self.accepted
        # No type, `none`, or a type X added after this code: only the `verified` flag is left.
        return author["verified"] and "legacy" in self.accepted
