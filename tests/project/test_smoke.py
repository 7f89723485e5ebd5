import pytest
from django.conf import settings

from trades.models import FilterProfile


@pytest.mark.django_db
def test_presets_exist_in_a_per_run_database():
    assert settings.DATABASES["default"]["NAME"].startswith("test_flowsite_")
    assert set(FilterProfile.objects.values_list("name", flat=True)) == {"classic-unusual-activity", "mag7-smart-money"}
