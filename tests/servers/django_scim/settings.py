"""Settings of the django-scim2 0.23 test server (sqlite): a second, independent SCIM server."""

import os

SECRET_KEY = "test-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_scim",
    "tests.servers.django_scim.scimapp",
]
MIDDLEWARE = [
    "tests.servers.django_scim.auth.BearerTokenMiddleware",
    "django_scim.middleware.SCIMAuthCheckMiddleware",
]
ROOT_URLCONF = "tests.servers.django_scim.urls"
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DJANGO_SCIM_DB", "/tmp/django-scim.sqlite3"),
        "OPTIONS": {"timeout": 30},
    }
}
AUTH_USER_MODEL = "scimapp.User"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
SCIM_SERVICE_PROVIDER = {
    "NETLOC": os.environ.get("DJANGO_SCIM_NETLOC", "localhost"),  # meta.location host:port
    "SCHEME": "http",
    "GROUP_MODEL": "tests.servers.django_scim.scimapp.models.Group",
    "USER_FILTER_PARSER": "tests.servers.django_scim.filters.UserFilter",
    "GROUP_FILTER_PARSER": "tests.servers.django_scim.filters.GroupFilter",
    "AUTHENTICATION_SCHEMES": [
        {"type": "oauthbearertoken", "name": "OAuth Bearer Token", "description": "static test token"}
    ],
}
LOGGING = {"version": 1, "disable_existing_loggers": True}
