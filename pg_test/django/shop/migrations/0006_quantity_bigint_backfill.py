from django.db import migrations

# quantity integer -> bigint, step 2 of 3: copy the existing rows in short batches with
# safe_ddl.backfill (docs/backfill.md), then validate the NOT NULL proof. The CALL commits after
# every batch, so it must be a statement of its own outside a transaction block: this migration
# is not atomic (autocommit, one transaction per statement; VALIDATE then takes only a SHARE
# UPDATE EXCLUSIVE lock, which blocks no reads or writes). The WHERE clause makes a re-run
# harmless. max_dead_tuple_ratio => NULL: the demo table is tiny and the test cannot wait for
# autovacuum; keep the default throttle on real tables.


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("shop", "0005_quantity_bigint_expand")]

    operations = [
        migrations.RunSQL(
            """
            CALL safe_ddl.backfill('shop_order', 'quantity_new = quantity',
                                   'quantity_new IS DISTINCT FROM quantity',
                                   max_dead_tuple_ratio => NULL)
            """
        ),
        migrations.RunSQL("ALTER TABLE shop_order VALIDATE CONSTRAINT shop_order_quantity_new_not_null"),
    ]
