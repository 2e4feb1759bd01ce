from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("simulator/<str:reference>/", views.simulator_action, name="simulator_action"),
    path("webhooks/<str:provider>/", views.webhook, name="webhook"),
]
