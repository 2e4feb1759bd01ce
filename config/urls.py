from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from checkout import account_views as checkout_account
from checkout import api as checkout_api
from checkout import money_back_api
from payments import api as payments_api
from payments import withdrawal_api

from . import account_export, views

# An API address no route matches answers JSON (the documented error shape), pages answer HTML.
handler404 = views.page_not_found

api_v1 = [
    path("products/", checkout_api.ProductList.as_view(), name="products"),
    path("orders/", checkout_api.OrderCreate.as_view(), name="order_create"),
    path("orders/<str:number>/", checkout_api.OrderDetail.as_view(), name="order_detail"),
    path(
        "orders/<str:number>/payment-methods/",
        payments_api.OrderPaymentMethods.as_view(),
        name="order_payment_methods",
    ),
    path("orders/<str:number>/payments/", payments_api.OrderPayments.as_view(), name="order_pay"),
    path(
        "orders/<str:number>/refund-requests/",
        money_back_api.OrderRefundRequests.as_view(),
        name="order_refund_requests",
    ),
    path("refunds/", money_back_api.RefundList.as_view(), name="refunds"),
    path("refunds/<uuid:public_id>/", money_back_api.RefundDetail.as_view(), name="refund"),
    path("payments/<uuid:public_id>/", payments_api.PaymentDetail.as_view(), name="payment"),
    path(
        "payments/<uuid:public_id>/refunds/",
        payments_api.PaymentRefunds.as_view(),
        name="payment_refunds",
    ),
    path("wallet/withdrawals/", withdrawal_api.Withdrawals.as_view(), name="withdrawals"),
    path(
        "wallet/withdrawals/<uuid:public_id>/",
        withdrawal_api.WithdrawalDetail.as_view(),
        name="withdrawal",
    ),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("metrics", views.metrics, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("accounts/profile/", checkout_account.account, name="account"),
    path("accounts/profile/export/", account_export.account_export, name="account_export"),
    path(
        "accounts/profile/claim-orders/",
        checkout_account.claim_request,
        name="account_claim_request",
    ),
    path(
        "accounts/profile/claim-orders/<str:token>/",
        checkout_account.claim_confirm,
        name="account_claim_orders",
    ),
    path("accounts/", include("accounts.urls")),
    path("payments/", include("payments.urls")),
    path("support/", include("support.urls")),
    path("api/v1/", include((api_v1, "api"), namespace="api")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves the page's script as a file (?script): the CSP refuses inline code.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api_docs"),
    path("", include("checkout.urls")),
]
