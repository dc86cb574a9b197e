"""Log-in and sign-up limits, on the real database and the run's real Redis."""

from __future__ import annotations

import time
import uuid

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-1"


@pytest.fixture
def limits(settings):
    settings.LOGIN_MAX_FAILURES_PER_ACCOUNT = 3
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 5
    settings.LOGIN_LOCKOUT_S = 30
    settings.SIGNUP_MAX_PER_ADDRESS = 3
    settings.SIGNUP_WINDOW_S = 30
    # A fast hasher: the windows must not run out while passwords are being hashed.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return settings


def _address() -> str:
    """A client address of the test's own: the counts in Redis outlive a test."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{n // 250 % 250}.{n // 62500 % 250 + 1}"


def _login(client: Client, username: str, password: str, url: str = "/accounts/login/"):
    return client.post(url, {"username": username, "password": password})


def _name() -> str:
    return f"u{uuid.uuid4().hex[:10]}"


def test_wrong_passwords_lock_the_account_until_the_lockout_ends(limits, make_user):
    limits.LOGIN_LOCKOUT_S = 3
    user = make_user(_name())
    client = Client(REMOTE_ADDR=_address())
    assert [_login(client, user.username, "wrong").status_code for _ in range(3)] == [
        200,
        200,
        429,  # the third failure locks the account, and says so
    ]
    resp = _login(client, user.username, PASSWORD)
    assert resp.status_code == 429
    assert "Too many failed log-ins" in resp.content.decode()
    assert int(resp["Retry-After"]) >= 1
    assert "_auth_user_id" not in client.session
    # The lock is on the account: another address is refused too.
    assert _login(Client(REMOTE_ADDR=_address()), user.username, PASSWORD).status_code == 429
    time.sleep(limits.LOGIN_LOCKOUT_S + 0.5)
    assert _login(client, user.username, PASSWORD).status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_the_last_wrong_password_already_says_locked(limits, make_user):
    user = make_user(_name())
    client = Client(REMOTE_ADDR=_address())
    texts = [_login(client, user.username, "wrong").content.decode() for _ in range(3)]
    assert "Too many failed log-ins" not in texts[1]
    assert "Too many failed log-ins" in texts[2] and "Try again in" in texts[2]


def test_a_right_password_clears_the_accounts_failures(limits, make_user):
    user = make_user(_name())
    client = Client(REMOTE_ADDR=_address())
    for _ in range(2):
        _login(client, user.username, "wrong")
    assert _login(client, user.username, PASSWORD).status_code == 302
    for _ in range(2):
        _login(Client(REMOTE_ADDR=_address()), user.username, "wrong")
    assert _login(Client(REMOTE_ADDR=_address()), user.username, PASSWORD).status_code == 302


def test_one_address_guessing_many_accounts_is_locked_out(limits, make_user):
    victim = make_user(_name())
    address = _address()
    for _ in range(5):  # one wrong password each for five different names
        _login(Client(REMOTE_ADDR=address), _name(), "wrong")
    resp = _login(Client(REMOTE_ADDR=address), victim.username, PASSWORD)
    assert resp.status_code == 429 and "from your address" in resp.content.decode()
    # The account itself is not locked: its owner elsewhere logs in.
    assert _login(Client(REMOTE_ADDR=_address()), victim.username, PASSWORD).status_code == 302


def test_the_admin_log_in_is_limited_too(limits, make_user):
    staff = make_user(_name(), staff=True)
    client = Client(REMOTE_ADDR=_address())
    for _ in range(3):
        _login(client, staff.username, "wrong", url="/admin/login/")
    resp = _login(client, staff.username, PASSWORD, url="/admin/login/")
    assert "Too many failed log-ins" in resp.content.decode()
    assert "_auth_user_id" not in client.session


def _signup(client: Client, username: str, password: str = "a-long-pass-42"):
    return client.post(
        "/accounts/signup/", {"username": username, "password1": password, "password2": password}
    )


def test_sign_up_flood_from_one_address_is_refused(limits, django_user_model):
    limits.SIGNUP_WINDOW_S = 3
    address = _address()
    for _ in range(3):
        assert _signup(Client(REMOTE_ADDR=address), _name()).status_code == 302
    flood = _name()
    resp = _signup(Client(REMOTE_ADDR=address), flood)
    assert resp.status_code == 429
    assert "Too many new accounts from your address" in resp.content.decode()
    assert not django_user_model.objects.filter(username=flood).exists()
    assert _signup(Client(REMOTE_ADDR=_address()), _name()).status_code == 302
    time.sleep(limits.SIGNUP_WINDOW_S + 0.5)
    assert _signup(Client(REMOTE_ADDR=address), flood).status_code == 302


def test_failed_sign_ups_do_not_count(limits):
    address = _address()
    for _ in range(5):  # passwords that do not match: no account made
        resp = Client(REMOTE_ADDR=address).post(
            "/accounts/signup/",
            {"username": _name(), "password1": "a-long-pass-42", "password2": "other-pass-42"},
        )
        assert resp.status_code == 200
    assert _signup(Client(REMOTE_ADDR=address), _name()).status_code == 302
