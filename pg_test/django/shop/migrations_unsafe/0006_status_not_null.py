from django.db import migrations, models

# What makemigrations writes for null=True -> null=False (no default):
#   ALTER TABLE "shop_order" ALTER COLUMN "status" SET NOT NULL
# PostgreSQL scans the whole table under an ACCESS EXCLUSIVE lock. safe_ddl refuses it
# (not_null_scan).


class Migration(migrations.Migration):
    dependencies = [("shop", "0005_quantity_bigint")]

    operations = [
        migrations.AlterField(model_name="order", name="status", field=models.CharField(max_length=20)),
    ]
