"""Reference data from Polygon's REST API: the guarded client and the loaders (HTTP → records).

Writing the records to the database is trades/services/reference_data.py's job.
"""
