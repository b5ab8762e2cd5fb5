from django.urls import path

from shadow import apis

urlpatterns = [
    path("datasets", apis.DatasetsView.as_view()),
    path("datasets/<str:dataset_id>", apis.DatasetView.as_view()),
    path("datasets/<str:dataset_id>/samples", apis.SamplesImportView.as_view()),
    path("evaluate", apis.EvaluateView.as_view()),
    path("evaluations/<str:eval_id>", apis.EvaluationView.as_view()),
    path("evaluations/<str:eval_id>/samples", apis.EvaluationSamplesView.as_view()),
    path("rules", apis.RulesView.as_view()),
    # Before rules/<rule_id>, which would otherwise capture it ("active" is a reserved rule id).
    path("rules/active", apis.ActiveRulesView.as_view()),
    path("rules/<str:rule_id>", apis.RuleView.as_view()),
    path("rules/<str:rule_id>/deploy", apis.DeployView.as_view()),
    path("rules/<str:rule_id>/rollback", apis.RollbackView.as_view()),
    path("compare", apis.CompareView.as_view()),
    path("crs", apis.CrsView.as_view()),
]
