"""Settings of the safe_ddl test project: one app, one PostgreSQL database, nothing else.

The database comes from the usual libpq variables: PGHOST (here the cluster's Unix socket
directory), PGPORT, PGUSER (default postgres), PGDATABASE (default shop). libpq also reads
PGOPTIONS, so `PGOPTIONS='-c safe_ddl.allow=index_build' python manage.py migrate` is the
override from the shell.

SHOP_MIGRATIONS chooses the migration chain of the `shop` app (both end in the same models):
  safe    shop/migrations         the zero-downtime recipes (the default)
  unsafe  shop/migrations_unsafe  what `makemigrations` writes: plain AddIndex and AlterField
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
