from django.urls import path

from . import views
from .chat.views import urlpatterns as chat_urlpatterns

app_name = "support"

urlpatterns = [
    path("", views.support_home, name="contact"),
    path("tickets/", views.ticket_list, name="ticket_list"),
    path("tickets/new/", views.ticket_new, name="ticket_new"),
    path("tickets/<str:number>/", views.ticket_detail, name="ticket"),
    path("tickets/<str:number>/rate/", views.ticket_rate, name="ticket_rate"),
    path("refunds/<uuid:public_id>/ask/", views.refund_ticket, name="refund_ticket"),
    path("help/", views.article_search, name="article_search"),
    path("help/<slug:slug>/", views.article_detail, name="article"),
    *chat_urlpatterns,
]
