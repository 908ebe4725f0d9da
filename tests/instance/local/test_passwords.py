"""scrypt password hashes: salted, parameterised, verified in constant time, never revealing the password."""

from __future__ import annotations

import pytest

from app.domain.errors import ValidationError
from app.instance.local.passwords import check_password_rules, hash_password, verify_password

PASSWORD = "hunter2-hunter2"


def test_hash_verifies_only_the_right_password() -> None:
    stored = hash_password(PASSWORD)
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + " ", stored)
    assert PASSWORD not in stored


def test_hashes_are_salted_and_carry_their_parameters() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    scheme, n, r, p, _salt, _digest = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")


@pytest.mark.parametrize(
    "stored", ["", "plain", "md5$1$2$3$4$5", "scrypt$x$8$1$AA==$AA==", "scrypt$16384$8$1$!!$AA=="]
)
def test_damaged_hashes_never_verify(stored: str) -> None:
    assert not verify_password(PASSWORD, stored)


def test_password_rules() -> None:
    check_password_rules("1234567x")
    with pytest.raises(ValidationError, match="at least 8 characters are needed, it has 7") as caught:
        check_password_rules("1234567")
    assert "1234567" not in str(caught.value).replace("it has 7", "")
    with pytest.raises(ValidationError, match="the password is too long: at most 1024 characters"):
        check_password_rules("x" * 1025)
    with pytest.raises(ValidationError, match="a password must be text"):
        check_password_rules(12345678)  # type: ignore[arg-type]


@pytest.mark.parametrize("password", ["password1", "PassW0rd", "12345678", "qwertyuiop", " iloveyou "])
def test_a_common_password_is_refused_without_repeating_it(password: str) -> None:
    with pytest.raises(ValidationError, match="one of the most common ones") as caught:
        check_password_rules(password, "alice")
    assert password.strip().lower() not in str(caught.value).lower()


@pytest.mark.parametrize("password", ["alice-the-admin", "ALICE-THE-ADMIN", " alice-the-admin"])
def test_the_user_name_is_not_a_password(password: str) -> None:
    with pytest.raises(ValidationError, match="cannot be the user name"):
        check_password_rules(password, "alice-the-admin")
    check_password_rules(password, "bob")  # the same text is fine for someone else
