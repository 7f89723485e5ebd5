from pathlib import Path

import pytest
from django.conf import settings

from trades.models import FilterProfile


@pytest.mark.django_db
def test_presets_exist_in_a_per_run_database():
    assert settings.DATABASES["default"]["NAME"].startswith("test_flowsite_")
    assert set(FilterProfile.objects.values_list("name", flat=True)) == {
        "classic-unusual-activity",
        "mag7-smart-money",
        "sweeps",
    }


def test_the_benchmark_and_the_demo_start_the_projects_own_manage_py():
    """They run `manage.py` children by path (the benchmark lost it once when it moved to trades/ops)."""
    from trades.ops import benchmark

    assert (benchmark.ROOT / "manage.py").is_file()
    assert (Path(settings.BASE_DIR) / "manage.py").is_file()
