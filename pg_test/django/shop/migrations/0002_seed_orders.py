import os

from django.core.exceptions import ImproperlyConfigured
from django.db import migrations

# The table holds rows before any later migration, as in production: 20,000 orders, every one
# with a status (so status can become NOT NULL). SHOP_SEED_ROWS changes the count: 0 leaves the
# table empty, as in a test database without seed data (the fresh-database part of
# pg_test/django_test.sh).
_rows = os.environ.get("SHOP_SEED_ROWS", "20000")
if not _rows.isdecimal():
    raise ImproperlyConfigured(f"SHOP_SEED_ROWS must be a number of rows (0 or more), not {_rows!r}")
ROWS = int(_rows)


class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]

    operations = [
        migrations.RunSQL(
            f"""
            INSERT INTO shop_order (customer, quantity, status, note, created_at)
            SELECT 'customer ' || (g % 997), 1 + g % 50, (ARRAY['new', 'paid', 'shipped'])[1 + g % 3],
                   'order number ' || g, timestamptz '2026-01-01 00:00+00' + g * interval '1 minute'
              FROM generate_series(1, {ROWS}) AS g
            """,
            reverse_sql="DELETE FROM shop_order",
        ),
    ]
