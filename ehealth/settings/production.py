"""Production: every secret from the environment, HTTPS everywhere (TLS ends at the proxy).

Required: SECRET_KEY, DATABASE_URL, ALLOWED_HOSTS. There is no embedded database and no
development default here: a missing value stops the start instead of running half-configured.
"""

import os

from django.core.exceptions import ImproperlyConfigured

for _name in ("DATABASE_URL", "SECRET_KEY", "ALLOWED_HOSTS"):
    if not os.environ.get(_name):
        # Checked before base.py runs: without DATABASE_URL it would start an embedded server.
        raise ImproperlyConfigured(f"{_name} must be set for ehealth.settings.production")

from ehealth.settings.base import *  # noqa: E402, F403

DEBUG = False
SECRET_KEY = env("SECRET_KEY")  # noqa: F405
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")  # noqa: F405

# The reverse proxy terminates TLS and sets X-Forwarded-Proto; it must overwrite any value a
# client sends.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)  # noqa: F405
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # container and load-balancer probes speak plain HTTP
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)  # noqa: F405
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)  # noqa: F405  (one shift)
