"""The floor's WSGI entry point (DJANGO_SETTINGS_MODULE=bench.floor)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.floor")
application = get_wsgi_application()
