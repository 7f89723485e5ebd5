from django.conf import settings
from django.contrib import admin
from django.urls import path

from trades import api, health, views

urlpatterns = [
    path("", views.home, name="home"),
    path(settings.ADMIN_URL, admin.site.urls),  # ADMIN_URL, default "admin/"
    path("api/pulse/smart-money", api.smart_money, name="smart-money"),
    path("api/pulse/orders", api.orders, name="orders"),
    path("api/pulse/suppressed", api.suppressed, name="suppressed"),
    path("healthz", health.healthz, name="healthz"),
]
