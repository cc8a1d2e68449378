from django.urls import path

from . import views

app_name = "uplift"
urlpatterns = [
    path("jobs/<int:pk>/planner/", views.planner, name="planner"),
    path("jobs/<int:pk>/planner.json", views.planner_data, name="planner-data"),
    path("jobs/<int:pk>/planner/users.csv", views.export_users, name="export-users"),
    path("jobs/<int:pk>/score/", views.score_users, name="score"),
]
