from django.db import migrations

from trades.domain.conditions import DEFAULT_EXCLUDED
from trades.presets import PROFILES, WATCHLISTS


def create_presets(apps, schema_editor):
    Watchlist = apps.get_model("trades", "Watchlist")
    WatchedTicker = apps.get_model("trades", "WatchedTicker")
    FilterProfile = apps.get_model("trades", "FilterProfile")
    for name, spec in WATCHLISTS.items():
        watchlist, _ = Watchlist.objects.get_or_create(name=name, defaults={"description": spec["description"]})
        for symbol in spec["tickers"]:
            WatchedTicker.objects.get_or_create(watchlist=watchlist, symbol=symbol)
    for spec in PROFILES:
        fields = dict(spec, watchlist=Watchlist.objects.get(name=spec["watchlist"]))
        fields["exclude_conditions"] = sorted(DEFAULT_EXCLUDED)
        FilterProfile.objects.get_or_create(name=fields.pop("name"), defaults=fields)


class Migration(migrations.Migration):
    dependencies = [("trades", "0001_initial")]
    operations = [migrations.RunPython(create_presets, migrations.RunPython.noop)]
