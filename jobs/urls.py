from django.urls import path

from . import views

app_name = "jobs"
urlpatterns = [
    path("", views.job_list, name="list"),
    path("new/", views.job_new, name="new"),
    path("compare/", views.job_compare, name="compare"),
    path("leaderboard/<int:dataset_pk>/", views.dataset_leaderboard, name="leaderboard"),
    path("<int:pk>/", views.job_detail, name="detail"),
    path("<int:pk>/cancel/", views.job_cancel, name="cancel"),
    path("<int:pk>/rerun/", views.job_rerun, name="rerun"),
    path("<int:pk>/delete/", views.job_delete, name="delete"),
    path("<int:pk>/model/", views.job_artifact, name="artifact"),
]
