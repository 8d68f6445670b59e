"""Settings of the safe_ddl test project: one app, one PostgreSQL database, nothing else.

The database comes from the usual libpq variables: PGHOST (here the cluster's Unix socket
directory), PGPORT, PGUSER (default postgres), PGDATABASE (default shop). libpq also reads
PGOPTIONS, so `PGOPTIONS='-c safe_ddl.allow=index_build' python manage.py migrate` is the
override from the shell.

SHOP_MIGRATIONS chooses the migration chain of the `shop` app (both end in the same models):
  safe    shop/migrations         the zero-downtime recipes (the default)
  unsafe  shop/migrations_unsafe  what `makemigrations` writes: plain AddIndex and AlterField

SHOP_EXTRA_APPS=1 also installs Django's contrib apps (contenttypes, auth, sessions, admin,
messages, sites) and two third-party apps with long migration histories, django-allauth
(account, socialaccount) and django-celery-results: the fresh-database test replays their
histories (pg_test/django/README.md). Off by default, so `manage.py migrate` without an app
label touches only the shop app.
"""
import os

from django.core.exceptions import ImproperlyConfigured

SECRET_KEY = "safe_ddl-test-project-not-secret"
DEBUG = False
ALLOWED_HOSTS = []
INSTALLED_APPS = ["shop"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("PGHOST", ""),
        "PORT": os.environ.get("PGPORT", ""),
        "USER": os.environ.get("PGUSER", "postgres"),
        "NAME": os.environ.get("PGDATABASE", "shop"),
    }
}

_CHAINS = {"safe": "shop.migrations", "unsafe": "shop.migrations_unsafe"}
_chain = os.environ.get("SHOP_MIGRATIONS", "safe")
if _chain not in _CHAINS:
    raise ImproperlyConfigured(f"SHOP_MIGRATIONS must be one of {sorted(_CHAINS)}, not {_chain!r}")
MIGRATION_MODULES = {"shop": _CHAINS[_chain]}

_extra = os.environ.get("SHOP_EXTRA_APPS", "0")
if _extra not in ("0", "1"):
    raise ImproperlyConfigured(f"SHOP_EXTRA_APPS must be 0 or 1, not {_extra!r}")
if _extra == "1":
    INSTALLED_APPS += [
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "django.contrib.sites",
        "allauth",
        "allauth.account",
        "allauth.socialaccount",
        "django_celery_results",
    ]
    SITE_ID = 1
    MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
        "allauth.account.middleware.AccountMiddleware",
    ]
    TEMPLATES = [
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.auth.context_processors.auth",
                    "django.contrib.messages.context_processors.messages",
                ]
            },
        }
    ]
