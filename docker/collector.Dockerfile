# The live chat collector (ECS service). Build from the repository root:
#   docker build -f docker/collector.Dockerfile -t vieweratlas-collector .
FROM python:3.12.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    COLLECTOR_SPOOL_DIR=/var/spool/vieweratlas

WORKDIR /app

# Pinned dependencies first (the layer survives code changes); no Airflow.
COPY collector/requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt

# The project modules the collector imports (all Airflow-free), then the collector.
COPY include/vieweratlas/__init__.py include/vieweratlas/settings.py include/vieweratlas/lake.py \
     include/vieweratlas/storage.py include/vieweratlas/schema.py include/vieweratlas/channel_list.py \
     /app/vieweratlas/
COPY collector/pyproject.toml collector/README.md /app/collector/
COPY collector/vieweratlas_collector/ /app/collector/vieweratlas_collector/
RUN pip install --no-cache-dir --no-deps /app/collector \
 && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin collector \
 && install -d -o collector /var/spool/vieweratlas \
 && install -d -m 1777 -o collector /tmp

USER 10001
# The task definition mounts volumes at both paths (read-only root filesystem). ECS creates
# a mount root-owned 0755 unless the image declares the path as a VOLUME, whose directory
# (owner and mode) it copies: both belong to the collector user here.
# The spool holds hours waiting for upload and the local heartbeat.
VOLUME ["/var/spool/vieweratlas", "/tmp"]

# ECS sends SIGTERM, then SIGKILL 30 s later; the collector uploads the partial hour in 10 s.
STOPSIGNAL SIGTERM
# Healthy while the heartbeat (written every minute next to the spool) is under 3 minutes old.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
  CMD ["python", "-m", "vieweratlas_collector.health", "--max-age", "180"]

ENTRYPOINT ["vieweratlas-collector"]
