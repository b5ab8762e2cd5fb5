from django.urls import path

from camouflage import apis

urlpatterns = [
    path("mask", apis.MaskView.as_view()),
    path("cards/validate", apis.CardValidateView.as_view()),
    path("encrypt", apis.EncryptView.as_view()),
    path("decrypt", apis.DecryptView.as_view()),
    path("rewrap", apis.RewrapView.as_view()),
    path("tokenize", apis.TokenizeView.as_view()),
    path("detokenize", apis.DetokenizeView.as_view()),
]
