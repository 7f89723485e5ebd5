from django.conf import settings
from django.contrib import admin
from django.urls import path

from trades import health, views
from trades.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path(settings.ADMIN_URL, admin.site.urls),  # ADMIN_URL, default "admin/"
    path("api/", api.urls),
    path("healthz", health.healthz, name="healthz"),
]
