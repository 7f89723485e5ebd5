from django.db import migrations, models


def consumed_were_counted(apps, schema_editor):
    """Before this, a batch's counts were added in the close that consumed it."""
    apps.get_model("trades", "PrintBatch").objects.filter(consumed=True).update(counted=True)


class Migration(migrations.Migration):
    dependencies = [
        ("trades", "0017_order_book"),
    ]

    operations = [
        migrations.AddField(
            model_name="printbatch",
            name="counted",
            field=models.BooleanField(default=False, help_text="Its volume counts are in VolumeCount."),
        ),
        migrations.RunPython(consumed_were_counted, migrations.RunPython.noop),
    ]
