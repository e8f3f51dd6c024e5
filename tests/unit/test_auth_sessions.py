"""Signed session cookies: what verifies, and what is refused without an error."""

from __future__ import annotations

import pytest

from threadline.server.auth import sessions

SECRET = b"s" * 32


def test_a_signed_cookie_names_its_key_until_it_expires() -> None:
    cookie = sessions.sign(SECRET, "tl_0123456789abcdef", 2_000)
    assert sessions.verify(SECRET, cookie, 1_999) == "tl_0123456789abcdef"
    assert sessions.verify(SECRET, cookie, 2_001) is None
    assert sessions.verify(b"another secret", cookie, 1_000) is None


@pytest.mark.parametrize(
    "cookie",
    ["", "x", "a.b", "tl_x.².sig", "tl_x.٣٣٣.sig", "tl_x.-1.sig", "tl_x.99999999999999999999.sig", "..", "é.1.é"],
)
def test_a_forged_or_damaged_cookie_is_no_session(cookie: str) -> None:
    assert sessions.verify(SECRET, cookie, 1_000) is None
