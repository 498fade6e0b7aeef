"""`agents.core.fields`: each reader returns its field with the type checked, or a `PostError`
that names the post and the fault."""

from __future__ import annotations

import pytest

from agents.core.fields import PostError, iso_utc, read_edit_chain, read_post_id, read_v1_id


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2022-10-07T22:42:12.000Z", "2022-10-07T22:42:12.000Z"),
        ("2022-10-08T05:42:12+07:00", "2022-10-07T22:42:12.000Z"),
        ("Fri Oct 07 22:42:12 +0000 2022", "2022-10-07T22:42:12.000Z"),
    ],
)
def test_times_come_out_in_x_api_v2_form(given: str, expected: str) -> None:
    assert iso_utc(given, "post 1") == expected


@pytest.mark.parametrize(
    ("given", "fault"),
    [
        ("yesterday", "is not a date-time"),
        ("2022-10-07T22:42:12", "has no time zone"),
    ],
)
def test_a_time_that_is_not_one_names_the_post(given: str, fault: str) -> None:
    with pytest.raises(PostError, match=f"^post 1: created_at .* {fault}"):
        iso_utc(given, "post 1")


def test_the_edit_chain_gives_the_first_id_and_the_revision() -> None:
    assert read_edit_chain(["10", "11", "12"], "11", "post 11") == ("10", 1)
    assert read_edit_chain(None, "11", "post 11") == ("11", 0)
    with pytest.raises(PostError, match="does not contain post 13"):
        read_edit_chain(["10", "11"], "13", "post 13")
    with pytest.raises(PostError, match="non-empty list of post ids"):
        read_edit_chain([10], "10", "post 10")


def test_ids_are_decimal_strings_and_v1_numbers_become_strings() -> None:
    assert read_post_id("123", "post") == "123"
    with pytest.raises(PostError, match="string of digits"):
        read_post_id("\uff11\uff12", "post")  # full-width digits: str.isdigit says yes
    assert read_v1_id({"id": 5, "id_str": "5"}, "id", "tweet") == "5"
    assert read_v1_id({"id": 5}, "id", "tweet") == "5"
    with pytest.raises(PostError, match="id must be a string id, got float"):
        read_v1_id({"id": 5.0}, "id", "tweet")
