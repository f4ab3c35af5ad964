"""Login with lockout after repeated failures (django-axes, per username)."""

import pytest
from django.conf import settings
from django.urls import reverse

from ehealth.core.models import Role
from tests.core.factories import make_staff

pytestmark = pytest.mark.django_db

PASSWORD = "pw-Test-2026!"


def _login(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_wrong_password_is_refused_with_a_vietnamese_message_and_no_session(client, facility):
    # given a receptionist
    user = make_staff(facility, Role.RECEPTIONIST)
    # when they type a wrong password
    response = _login(client, user.username, "wrong")
    # then the form comes back with the message, and nobody is signed in
    assert response.status_code == 200
    assert "Tên đăng nhập hoặc mật khẩu không đúng" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_right_password_signs_in_and_lands_on_home(client, facility):
    user = make_staff(facility, Role.RECEPTIONIST)
    response = _login(client, user.username, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.session["_auth_user_id"] == str(user.pk)


def test_repeated_failures_lock_the_account_even_with_the_right_password(client, facility):
    # given a user who mistyped their password as many times as allowed
    user = make_staff(facility, Role.DOCTOR)
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit):
        _login(client, user.username, "wrong")
    # when they now type the right one
    response = _login(client, user.username, PASSWORD)
    # then they are locked out: the page says why and for how long, and no session is opened
    assert response.status_code == 429
    body = response.content.decode()
    assert "Tài khoản tạm khoá" in body
    assert f"{settings.AXES_COOLOFF_TIME * 60:.0f} phút" in body
    assert "_auth_user_id" not in client.session


def test_lockout_is_per_username(client, facility):
    # given one account locked out
    locked = make_staff(facility, Role.DOCTOR)
    other = make_staff(facility, Role.NURSE)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, locked.username, "wrong")
    # when a colleague at the same address signs in
    response = _login(client, other.username, PASSWORD)
    # then they get in (a hospital's staff share one NAT address)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(other.pk)


def test_a_successful_login_resets_the_failure_count(client, facility):
    # given a user one failure short of the lockout, who then signs in correctly
    user = make_staff(facility, Role.CASHIER)
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        _login(client, user.username, "wrong")
    assert _login(client, user.username, PASSWORD).status_code == 302
    client.post(reverse("logout"))
    # when they again fail one time short of the limit
    for _ in range(limit - 1):
        _login(client, user.username, "wrong")
    # then the right password still works: the earlier failures were forgotten
    response = _login(client, user.username, PASSWORD)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_logout_is_a_post_and_ends_the_session(client, facility):
    user = make_staff(facility, Role.RECEPTIONIST)
    client.force_login(user)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session
