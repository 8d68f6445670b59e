from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Order",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("customer", models.CharField(max_length=100)),
                ("quantity", models.IntegerField()),
                ("status", models.CharField(max_length=20, null=True)),
                ("note", models.CharField(max_length=200)),
                ("created_at", models.DateTimeField()),
            ],
        ),
    ]
