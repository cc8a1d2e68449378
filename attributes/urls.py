from django.urls import path

from . import views

app_name = "attributes"
urlpatterns = [
    path("", views.job_index, name="index"),
    path("jobs/<int:pk>/", views.values_browser, name="browser"),
    path("jobs/<int:pk>/review/", views.review_queue, name="review"),
    path("jobs/<int:pk>/coverage/", views.coverage, name="coverage"),
    path("jobs/<int:pk>/export.<str:fmt>", views.export, name="export"),
    path("jobs/<int:pk>/to-ctr/", views.to_ctr, name="to_ctr"),
    path("values/<int:value_id>/review/", views.review_value, name="review_value"),
]
