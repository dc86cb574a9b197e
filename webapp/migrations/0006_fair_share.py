from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("webapp", "0005_playground_kinds"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="yield_requested_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="job",
            name="yielded_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
