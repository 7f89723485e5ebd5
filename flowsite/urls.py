from django.contrib import admin
from django.urls import path

from trades import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/pulse/smart-money", api.smart_money, name="smart-money"),
]
