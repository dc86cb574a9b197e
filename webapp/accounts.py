"""Log-in and sign-up with attempt limits (see throttle.py).

Log-in: at most LOGIN_MAX_FAILURES_PER_ACCOUNT failed passwords per account and
LOGIN_MAX_FAILURES_PER_ADDRESS per client address in LOGIN_LOCKOUT_S; then every
attempt on that account, or from that address, is refused – the right password too –
until the lock-out ends by itself. The check sits in the authentication backend, so
the site's log-in page and the admin's are both covered; their forms say why.
Sign-up: at most SIGNUP_MAX_PER_ADDRESS new accounts per address in SIGNUP_WINDOW_S.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms.forms import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse

from webapp.throttle import (
    Limit,
    client_address,
    limit_for,
    throttle_attempt,
    throttle_forgive,
    throttle_reset,
    throttle_wait,
    wait_in_words,
)


def login_limits(request: HttpRequest | None, username: str) -> tuple[Limit, Limit | None]:
    """The account's limit and the client address's (None without a request)."""
    window = settings.LOGIN_LOCKOUT_S
    account = limit_for(
        "login-account",
        username,
        max_attempts=settings.LOGIN_MAX_FAILURES_PER_ACCOUNT,
        window_s=window,
    )
    if request is None:
        return account, None
    address = limit_for(
        "login-address",
        client_address(request),
        max_attempts=settings.LOGIN_MAX_FAILURES_PER_ADDRESS,
        window_s=window,
    )
    return account, address


def login_wait(request: HttpRequest | None, username: str) -> int:
    """Seconds until this account may try to log in from this client again (0: now)."""
    return throttle_wait([lim for lim in login_limits(request, username) if lim])


def lockout_message(seconds: int) -> str:
    return (
        "Too many failed log-ins for this account or from your address. "
        f"Try again in {wait_in_words(seconds)}."
    )


class ThrottledModelBackend(ModelBackend):
    """Django's username/password check, counting each try against the limits first."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field(), "")
        account, address = login_limits(request, str(username or ""))
        limits = [lim for lim in (account, address) if lim]
        if throttle_attempt(limits):
            raise PermissionDenied  # stops every backend; the form tells the user why
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:  # the right password: not a failure
            throttle_reset(account)
            if address:
                throttle_forgive(address)
        return user

    async def aauthenticate(self, request, username=None, password=None, **kwargs):
        # ModelBackend's own async version would skip the limits.
        return await sync_to_async(self.authenticate)(
            request, username=username, password=password, **kwargs
        )

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD


class ThrottleMessage:
    """For authentication forms: say "locked out" rather than "wrong password"."""

    def get_invalid_login_error(self) -> ValidationError:
        wait = login_wait(self.request, str(self.cleaned_data.get("username") or ""))
        if wait:
            return ValidationError(lockout_message(wait), code="throttled")
        return super().get_invalid_login_error()


class LoginForm(ThrottleMessage, AuthenticationForm):
    pass


class AdminLoginForm(ThrottleMessage, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    """The site's log-in page: 429 with a Retry-After header while locked out."""

    authentication_form = LoginForm

    def form_invalid(self, form) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, "throttled"):
            response.status_code = 429
            username = str(form.cleaned_data.get("username") or "")
            response["Retry-After"] = str(login_wait(self.request, username) or 1)
        return response


def signup_limit(request: HttpRequest) -> Limit:
    return limit_for(
        "signup-address",
        client_address(request),
        max_attempts=settings.SIGNUP_MAX_PER_ADDRESS,
        window_s=settings.SIGNUP_WINDOW_S,
    )


def signup_refusal(seconds: int) -> str:
    return f"Too many new accounts from your address. Try again in {wait_in_words(seconds)}."
