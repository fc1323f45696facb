# The VOD chat downloader (one ECS Fargate task per VOD, started by vod_discovery).
# Build from the repository root with the TwitchDownloaderCLI release to bundle:
#   docker build -f docker/vod-downloader.Dockerfile \
#     --build-arg TD_VERSION=1.56.5 --build-arg TD_SHA256=<sha256 of the release zip> \
#     -t vieweratlas-vod-downloader .
# The task runs: python -m vieweratlas.vod_downloader --vod-id <id> --data-root s3://...
# (vod_discovery passes the arguments as container overrides).

# -- stage 1: fetch and verify the pinned TwitchDownloaderCLI release -----------------
FROM python:3.12.12-slim-bookworm AS cli
ARG TD_VERSION=1.56.5
ARG TD_SHA256
WORKDIR /tmp/td
# Python's urllib/hashlib/zipfile: no curl or unzip in the image, and a wrong or
# missing checksum fails the build.
RUN python - <<'PY'
import hashlib, os, sys, urllib.request, zipfile
version, expected = os.environ["TD_VERSION"], os.environ.get("TD_SHA256", "").lower()
if not expected:
    sys.exit("set --build-arg TD_SHA256=<sha256 of the release zip>")
asset = f"TwitchDownloaderCLI-{version}-Linux-x64.zip"
url = f"https://github.com/lay295/TwitchDownloader/releases/download/{version}/{asset}"
urllib.request.urlretrieve(url, asset)
actual = hashlib.sha256(open(asset, "rb").read()).hexdigest()
if actual != expected:
    sys.exit(f"{asset}: sha256 {actual} does not match TD_SHA256 {expected}")
zipfile.ZipFile(asset).extract("TwitchDownloaderCLI", "/tmp/td/out")
os.chmod("/tmp/td/out/TwitchDownloaderCLI", 0o755)
PY

# -- stage 2: the downloader program -------------------------------------------------
FROM python:3.12.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    VIEWERATLAS_DOWNLOADER_CLI=/usr/local/bin/TwitchDownloaderCLI \
    DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 \
    HOME=/tmp

WORKDIR /app

COPY docker/vod-downloader.requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir -r /app/requirements.txt \
 && useradd --system --uid 10002 --home-dir /nonexistent --shell /usr/sbin/nologin downloader

COPY --from=cli /tmp/td/out/TwitchDownloaderCLI /usr/local/bin/TwitchDownloaderCLI
# Only the Airflow-free modules the program imports.
COPY include/vieweratlas/__init__.py include/vieweratlas/settings.py include/vieweratlas/lake.py \
     include/vieweratlas/storage.py include/vieweratlas/schema.py include/vieweratlas/vod_chat.py \
     include/vieweratlas/vod_downloader.py \
     /app/vieweratlas/

# ECS mounts the task's scratch volume at /tmp (the root filesystem is read-only) and
# creates it root-owned 0755 unless the image declares that path as a VOLUME: it then
# copies the image's directory, owner and mode included. So /tmp is the user's here.
RUN install -d -m 1777 -o 10002 /tmp
VOLUME ["/tmp"]

USER 10002
# Exit codes: 0 done, 2 bad arguments, 3 VOD gone or chat malformed (the DAG skips
# it and the ledger gives it up), 4 CLI missing, 75 transient (retried).
ENTRYPOINT ["python", "-m", "vieweratlas.vod_downloader"]
