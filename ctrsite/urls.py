"""Top-level URLs: pages per app, the REST API with its OpenAPI schema and Swagger UI, the admin."""
from functools import cache

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework.routers import DefaultRouter

from datasets.api import DatasetViewSet
from jobs.api import JobViewSet, algorithm_list
from jobs.views import home
from registry.api import ScoringJobViewSet



@cache
def _favicon_bytes() -> bytes:
    return open(finders.find("favicon.ico"), "rb").read()


def favicon(request) -> HttpResponse:
    """``/favicon.ico`` for pages that do not name an icon (admin, API, browsers asking by habit)."""
    response = HttpResponse(_favicon_bytes(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response


router = DefaultRouter()
router.register("datasets", DatasetViewSet, basename="dataset")
router.register("jobs", JobViewSet, basename="job")
router.register("scoring-jobs", ScoringJobViewSet, basename="scoring-job")

urlpatterns = [
    path("", home, name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("datasets/", include("datasets.urls")),
    path("jobs/", include("jobs.urls")),
    path("uplift/", include("uplift.urls")),
    path("attributes/", include("attributes.urls")),
    path("registry/", include("registry.urls")),
    path("admin/", admin.site.urls),
    path("api/attributes/", include(("attributes.api", "attributes-api"))),
    path("api/uploads/", include("datasets.upload_api")),
    path("api/uplift/", include(("uplift.api", "uplift-api"))),
    path("api/", include(("registry.api", "registry-api"))),
    path("api/", include(router.urls)),
    path("api/algorithms/", algorithm_list, name="api-algorithms"),
    path("api/auth/token/", obtain_auth_token, name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = "ctrsite.errors.not_found"
handler500 = "ctrsite.errors.server_error"
