from django.urls import path

from . import views

app_name = "payments"

urlpatterns = [
    path("simulator/<str:reference>/", views.simulator_action, name="simulator_action"),
    path("qr/<str:provider>/<str:reference>/", views.qr_code, name="qr_code"),
    path("webhooks/<str:provider>/", views.webhook, name="webhook"),
]
