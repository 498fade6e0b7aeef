"""Which agencies a post addresses."""

from __future__ import annotations

from agents.core.post import Post
from agents.core.registry import Registry


def addressed_agencies(post: Post, registry: Registry) -> list[str]:
    """Agency ids in order of first appearance: mentioned accounts, then the replied-to account.

    A mention is matched by user id when it carries one, and by handle only when it does not: a
    handle can pass to someone else, and an agency that renamed its handle keeps its id.
    """
    by_id = registry.agency_by_account_id
    by_handle = registry.agency_by_username
    found: list[str] = []
    for user_id, handle in post.mentions:
        if user_id is not None:
            agency = by_id.get(user_id)
        elif handle is not None:
            agency = by_handle.get(handle.lower())
        else:
            continue
        if agency is not None and agency not in found:
            found.append(agency)
    if post.in_reply_to_user_id is not None:
        agency = by_id.get(post.in_reply_to_user_id)
        if agency is not None and agency not in found:
            found.append(agency)
    return found
