from django.urls import path

from console import views

app_name = "console"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("tenants/<str:tenant_id>", views.tenant, name="tenant"),
    path("tenants/<str:tenant_id>/verify", views.tenant_verify, name="tenant_verify"),
    path("evaluations/<str:eval_id>", views.evaluation, name="evaluation"),
    path("evaluations/<str:eval_id>/status", views.evaluation_status, name="evaluation_status"),
    path("evaluations/<str:eval_id>/cancel", views.evaluation_cancel, name="evaluation_cancel"),
    path("compare", views.compare, name="compare"),
    path("rules/<str:tenant_id>/<str:rule_id>", views.rule, name="rule"),
]
