"""The deployment files agree with the settings: services, queues, commands and volumes."""
from __future__ import annotations

from pathlib import Path

import yaml
from django.conf import settings

REPO = Path(__file__).resolve().parent.parent


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_runs_every_service_with_health_checks():
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", "minio", "web", "worker-cpu", "worker-gpu"}
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"


def test_workers_consume_the_queues_the_router_uses():
    services = compose()["services"]
    cpu, gpu = services["worker-cpu"]["command"], services["worker-gpu"]["command"]
    assert cpu[:4] == ["celery", "-A", "ctrsite", "worker"] and cpu[cpu.index("-Q") + 1] == settings.JOB_QUEUE_CPU
    assert gpu[gpu.index("-Q") + 1] == settings.JOB_QUEUE_GPU
    env = services["worker-gpu"]["environment"]
    assert env["JOB_QUEUE_GPU"] == settings.JOB_QUEUE_GPU and env["JOB_QUEUE_CPU"] == settings.JOB_QUEUE_CPU


def test_gpu_worker_reserves_an_nvidia_device():
    devices = compose()["services"]["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]


def test_services_use_postgres_redis_and_private_media():
    services = compose()["services"]
    media_volumes = set()
    for name in ("web", "worker-cpu", "worker-gpu"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"].startswith("redis://redis:6379")
        assert env["DEBUG"] == "0" and "SECRET_KEY" in env
        assert [v for v in services[name]["volumes"] if v.endswith(":" + env["MEDIA_ROOT"])]
        media_volumes.update(v.split(":")[0] for v in services[name]["volumes"])
        for dependency in ("postgres", "redis", "minio"):
            assert services[name]["depends_on"][dependency]["condition"] == "service_healthy"
    assert len(media_volumes) == 3  # web and workers share no volume: files go through the object store
    assert "gunicorn ctrsite.wsgi:application" in " ".join(services["web"]["command"])
    assert set(compose()["volumes"]) >= media_volumes | {"pgdata", "objects"}


def test_services_keep_their_files_in_the_minio_bucket():
    services = compose()["services"]
    minio = services["minio"]
    assert minio["command"][:2] == ["server", "/data"] and "objects:/data" in minio["volumes"]
    for name in ("web", "worker-cpu", "worker-gpu"):
        env = services[name]["environment"]
        assert env["OBJECT_STORAGE"] == "s3" and env["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
        assert env["AWS_STORAGE_BUCKET_NAME"] and env["OBJECT_STORAGE_CREATE_BUCKET"] == "1"
        # the store's credentials are MinIO's root user, from the same .env variables
        assert env["AWS_ACCESS_KEY_ID"] == minio["environment"]["MINIO_ROOT_USER"]
        assert env["AWS_SECRET_ACCESS_KEY"] == minio["environment"]["MINIO_ROOT_PASSWORD"]


def test_dockerfile_builds_the_same_app():
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "collectstatic" in dockerfile and "gunicorn" in dockerfile and "torch==${TORCH_VERSION}" in dockerfile
