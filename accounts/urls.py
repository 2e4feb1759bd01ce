from django.urls import path

from . import address_views, phone_views, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("password-reset/sms/", phone_views.sms_reset, name="sms_reset"),
    path("password-reset/sms/code/", phone_views.sms_reset_code, name="sms_reset_code"),
    path(
        "password-reset/sms/new-password/",
        phone_views.sms_reset_password,
        name="sms_reset_password",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password-reset/done/",
        views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("password-change/", views.PasswordChangeView.as_view(), name="password_change"),
    path("delete/", views.delete_account, name="delete"),
    path("deleted/", views.account_deleted, name="deleted"),
    path("phone/", phone_views.phone_add, name="phone"),
    path("phone/verify/", phone_views.phone_verify, name="phone_verify"),
    path("phone/remove/", phone_views.phone_remove, name="phone_remove"),
    path("addresses/", address_views.address_list, name="addresses"),
    path("addresses/new/", address_views.address_new, name="address_new"),
    path("addresses/<int:pk>/edit/", address_views.address_edit, name="address_edit"),
    path("addresses/<int:pk>/delete/", address_views.address_delete, name="address_delete"),
    path("addresses/<int:pk>/restore/", address_views.address_restore, name="address_restore"),
]
