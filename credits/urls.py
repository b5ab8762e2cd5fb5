from django.urls import path

from credits import apis

urlpatterns = [
    path("consume", apis.ConsumeView.as_view()),
    path("purchase", apis.PurchaseView.as_view()),
    path("grants", apis.GrantView.as_view()),
    path("batch", apis.BatchView.as_view()),
    path("grants/<str:tenant_id>", apis.GrantsView.as_view()),
    path("reserve", apis.ReserveView.as_view()),
    path("refund", apis.RefundView.as_view()),
    path("balance/<str:tenant_id>", apis.BalanceView.as_view()),
    path("reservations/<str:reservation_id>", apis.ReservationView.as_view()),
    path("reservations/<str:reservation_id>/capture", apis.CaptureView.as_view()),
    path("reservations/<str:reservation_id>/release", apis.ReleaseView.as_view()),
    path("transactions/<str:tenant_id>", apis.TransactionsView.as_view()),
    path("audit/<str:tenant_id>", apis.AuditView.as_view()),
    path("audit/<str:tenant_id>/verify", apis.AuditVerifyView.as_view()),
    path("alerts/<str:tenant_id>", apis.AlertsView.as_view()),
    path("events/<str:tenant_id>", apis.EventsView.as_view()),
]
