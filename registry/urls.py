from django.urls import path

from . import views

app_name = "registry"
urlpatterns = [
    path("", views.model_list, name="list"),
    path("models/<slug:name>/", views.model_detail, name="model"),
    path("models/<slug:name>/v<int:version>/production/", views.set_production, name="set-production"),
    path("runs/<int:pk>/promote/", views.promote, name="promote"),
    path("score/", views.score, name="score"),
    path("scoring/<int:pk>/predictions.<str:fmt>", views.predictions_download, name="predictions"),
]
