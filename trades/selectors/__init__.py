"""Reads: queries and the forms stored data is shown in; they write nothing.

hits           the newest stored hits, hits today
health         the checks behind /healthz, the landing page and `manage.py health`
flow_rules     the enabled profiles as the rules judge them (cached per worker)
subscriptions  the channels the listener subscribes to
stream_status  where the listener's previous run stopped, what it kept for later
serializers    the one serialized form of a trade (API, CSV export, webhooks)

Writes live in trades.services; pages, commands and tasks call both and hold no logic.
"""
