"""Dates and times as flowsite shows them everywhere (admin included): ISO order, 24-hour clock, and
the zone (New York: settings.TIME_ZONE), so "09:31:05 EST" is never mistaken for UTC.
https://docs.djangoproject.com/en/5.2/topics/i18n/formatting/#creating-custom-format-files
"""

DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i:s T"
DATETIME_FORMAT = "Y-m-d H:i:s T"
SHORT_DATE_FORMAT = "Y-m-d"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
