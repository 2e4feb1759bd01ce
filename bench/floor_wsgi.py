"""The floor's entry points (DJANGO_SETTINGS_MODULE=bench.floor): WSGI, and ASGI the way
config/asgi.py serves the project's HTTP (Django's WSGI handler in a2wsgi's threads)."""

import os

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.floor")
application = get_wsgi_application()
asgi_application = WSGIMiddleware(application, workers=4)
