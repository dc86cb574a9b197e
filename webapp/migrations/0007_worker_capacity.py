from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("webapp", "0006_fair_share"),
    ]

    operations = [
        migrations.AddField(
            model_name="worker",
            name="capacity_mb",
            field=models.PositiveIntegerField(default=0),
        ),
    ]
