"""The floor: what plain Django does on this machine, served by the same server as the project.

Django's default middleware (as `startproject` writes it), one template, one query on the
project's own products table. `/bare/` is the bare view (no template, no query). bench/web.py
serves this module with DJANGO_SETTINGS_MODULE=bench.floor and compares every page to it.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path

BASE = Path(__file__).resolve().parent
DEBUG = False
SECRET_KEY = "bench-floor-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = __name__
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE / "templates"],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("FLOOR_DB", str(BASE.parent / "var" / "checkout.sqlite3")),
    }
}
USE_TZ = True


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def floor(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sku, name_en, price, currency FROM checkout_product"
            " WHERE active ORDER BY name_en"
        )
        products = cursor.fetchall()
    return render(request, "floor.html", {"products": products})


urlpatterns = [path("bare/", bare), path("floor/", floor)]
