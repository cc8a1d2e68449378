# One image for the web server and the workers. The GPU worker runs the same image on a host with
# the NVIDIA container toolkit; install a CUDA build of torch with TORCH_INDEX_URL for real GPU use.
FROM python:3.11-slim

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    CTRSTUDIO_VAR_DIR=/app/var MEDIA_ROOT=/data/media STATIC_ROOT=/app/staticfiles

RUN apt-get update && apt-get install -y --no-install-recommends libpq5 curl && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home --uid 1000 ctrstudio
WORKDIR /app

COPY pyproject.toml ./
RUN pip install "torch==${TORCH_VERSION}" --index-url "${TORCH_INDEX_URL}"
COPY . .
RUN pip install . \
 && DEBUG=0 SECRET_KEY=build-only python manage.py collectstatic --noinput \
 && mkdir -p /data/media /app/var && chown -R ctrstudio /data /app/var

USER ctrstudio
EXPOSE 8000
CMD ["gunicorn", "ctrsite.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "300"]
