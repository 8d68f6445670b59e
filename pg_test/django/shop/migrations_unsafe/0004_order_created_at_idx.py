from django.db import migrations, models

# What makemigrations writes for a new Meta.indexes entry: a plain CREATE INDEX inside the
# migration's transaction. safe_ddl refuses it (index_build).


class Migration(migrations.Migration):
    dependencies = [("shop", "0003_note_text")]

    operations = [
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["created_at"], name="shop_order_created_at_idx"),
        ),
    ]
