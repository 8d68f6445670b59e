from django.db import migrations

# quantity integer -> bigint without a rewrite, step 1 of 3 (expand; docs/hazards/table_rewrite.md):
# a new bigint column, a trigger that keeps it in step with quantity for every write from now on
# (dual writes), and the NOT NULL proof for it, not yet validated. All instant, one short
# transaction. Django's model state does not change: the application keeps using quantity.


class Migration(migrations.Migration):
    dependencies = [("shop", "0004_order_created_at_idx")]

    operations = [
        migrations.RunSQL(
            [
                "ALTER TABLE shop_order ADD COLUMN quantity_new bigint",
                """
                CREATE FUNCTION shop_order_quantity_sync() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    NEW.quantity_new := NEW.quantity;
                    RETURN NEW;
                END $$
                """,
                """
                CREATE TRIGGER shop_order_quantity_sync BEFORE INSERT OR UPDATE ON shop_order
                    FOR EACH ROW EXECUTE FUNCTION shop_order_quantity_sync()
                """,
                """
                ALTER TABLE shop_order ADD CONSTRAINT shop_order_quantity_new_not_null
                    CHECK (quantity_new IS NOT NULL) NOT VALID
                """,
            ],
        ),
    ]
