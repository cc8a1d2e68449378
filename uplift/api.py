"""REST endpoints of the targeting planner: expected incremental outcomes of a budget, and the chosen users as CSV."""
from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from jobs.models import Job
from mlcore.csvsafe import safe_frame
from jobs.selectors import jobs_visible_to

from .planner import TASKS, chosen_users, plan_at
from .selectors import NoScores, heldout_scores, job_plan


class PlanRequestSerializer(serializers.Serializer):
    arm = serializers.IntegerField(min_value=1, help_text="Treated arm index (1..K); the job summary's `arms` names them.")
    task = serializers.ChoiceField(choices=TASKS, default="ctr", help_text="Rank users by CTR or CTCVR uplift.")
    share = serializers.FloatField(required=False, min_value=0.0, max_value=1.0, help_text="Share of users to treat.")
    cost = serializers.FloatField(required=False, min_value=0.0, help_text="Cost per treated user (with value).")
    value = serializers.FloatField(required=False, min_value=0.0, help_text="Value per conversion (with cost).")
    population = serializers.FloatField(required=False, min_value=1.0,
                                        help_text="Users in the population (default: the dataset's rows).")

    def validate(self, data):
        if "share" not in data and not ("cost" in data and "value" in data):
            raise serializers.ValidationError("Give `share`, or both `cost` and `value` for the profit-maximising share.")
        return data


class OutcomeSerializer(serializers.Serializer):
    model = serializers.FloatField(help_text="Expected incremental total when the model picks the users.")
    model_low = serializers.FloatField(required=False)
    model_high = serializers.FloatField(required=False)
    random = serializers.FloatField(help_text="Expected incremental total when the same number is picked at random.")
    random_low = serializers.FloatField(required=False)
    random_high = serializers.FloatField(required=False)
    gain = serializers.FloatField(help_text="model - random.")
    gain_low = serializers.FloatField(required=False)
    gain_high = serializers.FloatField(required=False)


class PlanResponseSerializer(serializers.Serializer):
    arm = serializers.IntegerField()
    arm_name = serializers.CharField()
    task = serializers.CharField()
    share = serializers.FloatField(help_text="Share of users treated (on the 1 % grid).")
    users = serializers.FloatField(help_text="Users treated in the population.")
    population = serializers.FloatField()
    threshold = serializers.FloatField(help_text="Treat users whose predicted uplift is at least this.")
    n_heldout = serializers.IntegerField(help_text="Held-out rows the estimate comes from.")
    outcomes = serializers.DictField(child=OutcomeSerializer(), help_text="clicks, conversions (and revenue); 95 % intervals.")
    profit = serializers.FloatField(required=False)
    profit_low = serializers.FloatField(required=False)
    profit_high = serializers.FloatField(required=False)


class PlannerErrorSerializer(serializers.Serializer):
    errors = serializers.JSONField(required=False)
    detail = serializers.CharField(required=False, help_text="a request refused before it reached the view "
                                   "(a body that does not parse, a NUL character)")


def _uplift_job(request: Request, pk: int) -> Job:
    job = get_object_or_404(jobs_visible_to(request.user), pk=pk, kind="uplift")
    if job.status != Job.Status.SUCCEEDED:
        raise Http404("The planner opens once the job has succeeded.")
    return job


@extend_schema(request=PlanRequestSerializer, responses={200: PlanResponseSerializer, 400: PlannerErrorSerializer})
@api_view(["POST"])
def plan(request: Request, pk: int) -> Response:
    """Expected incremental clicks, conversions (and revenue) with 95 % intervals for one arm, task and budget."""
    job = _uplift_job(request, pk)
    body = PlanRequestSerializer(data=request.data)
    if not body.is_valid():
        return Response({"errors": body.errors}, status=400)
    v = body.validated_data
    try:
        data = plan_at(job_plan(job), v["arm"], v["task"], share=v.get("share"), cost=v.get("cost"),
                       value=v.get("value"), population=v.get("population"))
    except NoScores as exc:
        raise Http404(str(exc)) from None
    except (KeyError, ValueError) as exc:
        return Response({"errors": {"arm": str(exc).strip("'\"")}}, status=400)
    return Response(PlanResponseSerializer(data).data)


@extend_schema(parameters=[OpenApiParameter("arm", int, required=True), OpenApiParameter("task", str, enum=list(TASKS)),
                           OpenApiParameter("share", float, required=True)],
               responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="row, user_id, uplift per task"),
                          400: PlannerErrorSerializer})
@api_view(["GET"])
def plan_users(request: Request, pk: int) -> HttpResponse:
    """CSV of the held-out users the plan treats (best first): row, user id, predicted uplift."""
    job = _uplift_job(request, pk)
    try:
        arm, task = int(request.query_params.get("arm", "")), request.query_params.get("task", "ctr")
        share = float(request.query_params.get("share", ""))
        users = chosen_users(heldout_scores(job), arm, task, share)
    except NoScores as exc:
        raise Http404(str(exc)) from None
    except (ValueError, KeyError) as exc:
        return Response({"errors": {"query": f"{exc}; use arm=1..K, task=ctr or ctcvr, share between 0 and 1"}},
                        status=400)
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="job-{job.pk}-arm{arm}-{task}-top{round(share * 100)}pct.csv"'
    safe_frame(users).to_csv(response, index=False)  # user ids are the analyst's text: no formulas
    return response


urlpatterns = [
    path("jobs/<int:pk>/plan/", plan, name="plan"),
    path("jobs/<int:pk>/plan/users/", plan_users, name="plan-users"),
]
