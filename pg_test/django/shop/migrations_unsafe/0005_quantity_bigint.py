from django.db import migrations, models

# What makemigrations writes for IntegerField -> BigIntegerField:
#   ALTER TABLE "shop_order" ALTER COLUMN "quantity" TYPE bigint USING "quantity"::bigint
# integer -> bigint is not binary coercible: PostgreSQL rewrites the table under an ACCESS
# EXCLUSIVE lock. safe_ddl refuses it (table_rewrite).


class Migration(migrations.Migration):
    dependencies = [("shop", "0004_order_created_at_idx")]

    operations = [
        migrations.AlterField(model_name="order", name="quantity", field=models.BigIntegerField()),
    ]
