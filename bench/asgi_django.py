"""The project as it was served before issue 16's second round: HTTP through Django's own ASGI
handler (every sync view run by asgiref in the process's one thread-sensitive thread).
Only for `bench/web.py`, to measure config/asgi.py's WSGI-handler route against it."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from config.asgi import application as project  # noqa: E402

application = type(project)({**project.application_mapping, "http": django_asgi_app})
