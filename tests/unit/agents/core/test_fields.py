"""`agents.core.fields`: each check returns its value, or a `PostError` that names the fault and
the field's path."""

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
    assert iso_utc(given, "$.data.created_at") == expected


@pytest.mark.parametrize(
    ("given", "fault"),
    [
        ("yesterday", "is not a date-time"),
        ("2022-10-07T22:42:12", "has no time zone"),
    ],
)
def test_a_time_that_is_not_one_names_the_field(given: str, fault: str) -> None:
    with pytest.raises(PostError, match=f"^created_at .* {fault} - at `\\$.data.created_at`$"):
        iso_utc(given, "$.data.created_at")


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
    assert read_v1_id("5", 5, "$.id") == "5"
    assert read_v1_id(None, 5, "$.id") == "5"
    assert read_v1_id("7", [], "$.id") == "7"  # the number is not read when the string is there
    with pytest.raises(PostError, match="integer or a string, got int"):
        read_v1_id(None, -1, "$.id")
    with pytest.raises(PostError, match=r"integer or a string, got float - at `\$\.id`$"):
        read_v1_id(None, 5.0, "$.id")
