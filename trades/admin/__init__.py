"""Django admin, one module per concern: tune profiles, watchlists, subscriptions and webhook
endpoints live; browse contracts, hits, deliveries, dead letters, gaps and the stream's status.

display.py holds how values are shown (the house style, verdicts); common.py what pages share.
"""

from django.contrib import admin

admin.site.site_header = "flowsite"
admin.site.site_title = "flowsite admin"
admin.site.index_title = "Control room"
# "View site" leads to the landing page (trades/views.py).
admin.site.site_url = "/"
# The app list is one click away (Home); without the sidebar, list pages fit a 1366 px screen.
admin.site.enable_nav_sidebar = False

# Registering happens on import.
from trades.admin import (  # noqa: E402, F401
    access,
    config,
    history,
    order_browser,
    reference,
    reliability,
    stream,
    trade_browser,
    webhooks,
)
