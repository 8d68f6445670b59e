from django.db import migrations, models

# varchar(200) -> text is binary coercible: PostgreSQL changes only the catalog (no rewrite, no
# scan), so safe_ddl lets this plain AlterField through. Shared by both chains.


class Migration(migrations.Migration):
    dependencies = [("shop", "0002_seed_orders")]

    operations = [
        migrations.AlterField(model_name="order", name="note", field=models.TextField()),
    ]
