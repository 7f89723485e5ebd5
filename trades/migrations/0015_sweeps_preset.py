from django.db import migrations

from trades.presets import ORDER_PROFILES


def create_order_presets(apps, schema_editor):
    Watchlist = apps.get_model("trades", "Watchlist")
    FilterProfile = apps.get_model("trades", "FilterProfile")
    for spec in ORDER_PROFILES:
        watchlist = Watchlist.objects.filter(name=spec["watchlist"]).first()
        if watchlist is None:  # the operator deleted the preset watchlist: leave the preset out too
            continue
        fields = dict(spec, watchlist=watchlist)
        FilterProfile.objects.get_or_create(name=fields.pop("name"), defaults=fields)


class Migration(migrations.Migration):
    dependencies = [("trades", "0014_orders")]
    operations = [migrations.RunPython(create_order_presets, migrations.RunPython.noop)]
