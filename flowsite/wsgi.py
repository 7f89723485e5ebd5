import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsite.settings")
application = get_wsgi_application()

from flowsite.local_state import prepare  # noqa: E402  (needs the settings configured above)

prepare()
