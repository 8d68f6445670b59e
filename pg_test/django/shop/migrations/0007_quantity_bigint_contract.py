from django.db import migrations, models

# quantity integer -> bigint, step 3 of 3 (contract), one short transaction: SET NOT NULL is
# instant (the validated CHECK proves it), the old column goes and the new one takes its name.
# DROP COLUMN and RENAME COLUMN of a table in use are hazards that safe_ddl refuses by default
# (the application must no longer read the old column / must be ready for the name): this is
# the moment they are intended, so the transaction allows exactly those two, plus `in_use`:
# safe_ddl's usage tracking saw quantity used moments ago, and here that is by design (the
# application reads and writes quantity until the new column takes its name in this very
# transaction; without in_use the DROP COLUMN is refused as in use).
# The model state becomes BigIntegerField here (SeparateDatabaseAndState).


class Migration(migrations.Migration):
    dependencies = [("shop", "0006_quantity_bigint_backfill")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    [
                        "SET LOCAL safe_ddl.allow = 'drop_column, rename, in_use'",
                        "ALTER TABLE shop_order ALTER COLUMN quantity_new SET NOT NULL",
                        "ALTER TABLE shop_order DROP CONSTRAINT shop_order_quantity_new_not_null",
                        "DROP TRIGGER shop_order_quantity_sync ON shop_order",
                        "ALTER TABLE shop_order DROP COLUMN quantity",
                        "ALTER TABLE shop_order RENAME COLUMN quantity_new TO quantity",
                        "DROP FUNCTION shop_order_quantity_sync()",
                    ]
                ),
            ],
            state_operations=[
                migrations.AlterField(model_name="order", name="quantity", field=models.BigIntegerField()),
            ],
        ),
    ]
