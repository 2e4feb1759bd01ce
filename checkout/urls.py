from django.urls import path

from . import money_back_views, views, wallet_views, withdraw_views

app_name = "checkout"

urlpatterns = [
    path("", views.product_list, name="product_list"),
    path("cart/", views.cart, name="cart"),
    path("cart/update/", views.cart_update, name="cart_update"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/<str:number>/", views.order_status, name="order_status"),
    path("orders/<str:number>/pay/", views.order_resume, name="order_resume"),
    path(
        "orders/<str:number>/pay-another-way/",
        views.order_cancel_payment,
        name="order_cancel_payment",
    ),
    path(
        "orders/<str:number>/check-payment/",
        views.order_check_payment,
        name="order_check_payment",
    ),
    path("orders/<str:number>/status.json", views.order_status_json, name="order_status_json"),
    path("orders/<str:number>/no-reminders/", views.order_no_reminders, name="order_no_reminders"),
    path("wallet/top-up/", wallet_views.wallet_top_up, name="wallet_top_up"),
    path("money-back/", money_back_views.money_back_list, name="money_back_list"),
    path("money-back/<uuid:public_id>/", money_back_views.money_back_detail, name="money_back"),
    path(
        "orders/<str:number>/refund-request/",
        views.order_refund_request,
        name="order_refund_request",
    ),
    path(
        "orders/<str:number>/refund-request/withdraw/",
        views.order_refund_request_withdraw,
        name="order_refund_request_withdraw",
    ),
    path("wallet/withdraw/", withdraw_views.wallet_withdraw, name="wallet_withdraw"),
    path(
        "wallet/withdrawals/<uuid:public_id>/",
        withdraw_views.wallet_withdrawal,
        name="wallet_withdrawal",
    ),
]
