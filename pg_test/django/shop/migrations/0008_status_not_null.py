from django.db import migrations, models

# status SET NOT NULL without scanning under an ACCESS EXCLUSIVE lock
# (docs/hazards/not_null_scan.md): a NOT VALID CHECK (instant), VALIDATE (scans, blocks no reads
# or writes), SET NOT NULL (instant: the validated CHECK proves it), drop the now redundant CHECK.
# Each statement must be its own transaction (a VALIDATE in the transaction of the ADD CONSTRAINT
# would scan while holding its ACCESS EXCLUSIVE lock): the migration is not atomic.
# The model state becomes null=False (SeparateDatabaseAndState).


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("shop", "0007_quantity_bigint_contract")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    [
                        """
                        ALTER TABLE shop_order ADD CONSTRAINT shop_order_status_not_null
                            CHECK (status IS NOT NULL) NOT VALID
                        """,
                        "ALTER TABLE shop_order VALIDATE CONSTRAINT shop_order_status_not_null",
                        "ALTER TABLE shop_order ALTER COLUMN status SET NOT NULL",
                        "ALTER TABLE shop_order DROP CONSTRAINT shop_order_status_not_null",
                    ]
                ),
            ],
            state_operations=[
                migrations.AlterField(model_name="order", name="status", field=models.CharField(max_length=20)),
            ],
        ),
    ]
