"""Outgoing webhooks: payload formats, Standard Webhooks signing, the safe HTTP sender."""
