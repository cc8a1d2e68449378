"""Top-level URLs: pages per app, the REST API with its OpenAPI schema and Swagger UI, the admin."""
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from datasets.api import DatasetViewSet
from jobs.api import JobViewSet, algorithm_list
from jobs.views import home

router = DefaultRouter()
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("jobs", JobViewSet, basename="job")

urlpatterns = [
    path("", home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("datasets/", include("datasets.urls")),
    path("jobs/", include("jobs.urls")),
    path("uplift/", include("uplift.urls")),
    path("attributes/", include("attributes.urls")),
    path("admin/", admin.site.urls),
    path("api/attributes/", include(("attributes.api", "attributes-api"))),
    path("api/", include(router.urls)),
    path("api/algorithms/", algorithm_list, name="api-algorithms"),
    path("api/auth/token/", obtain_auth_token, name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = "ctrsite.errors.not_found"
handler500 = "ctrsite.errors.server_error"
