from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from trades import health, views
from trades.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path(settings.ADMIN_URL, admin.site.urls),  # ADMIN_URL, default "admin/"
    path("api/", api.urls),
    path("healthz", health.healthz, name="healthz"),
    # The flow board, for any signed-in user (not only staff).
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="trades/board/login.html",
            redirect_authenticated_user=True,
            extra_context={"title": "Sign in"},
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="login"), name="logout"),
    path("board/", views.board, name="board"),
    re_path(r"^board/(?P<ticker>[A-Za-z][A-Za-z0-9.]{0,15})/$", views.ticker_board, name="board-ticker"),
]
