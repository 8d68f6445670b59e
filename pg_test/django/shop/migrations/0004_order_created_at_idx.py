from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models

# CREATE INDEX CONCURRENTLY: blocks no writes. It cannot run inside a transaction block, so this
# migration is not atomic (Django runs its statements in autocommit). If the build fails it
# leaves an INVALID index: DROP INDEX CONCURRENTLY it and migrate again.


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("shop", "0003_note_text")]

    operations = [
        AddIndexConcurrently(
            model_name="order",
            index=models.Index(fields=["created_at"], name="shop_order_created_at_idx"),
        ),
    ]
