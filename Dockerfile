# Astro Runtime image for Airflow 3.3.1 (`astro dev start`), its Python 3.12 distribution:
# MWAA runs Python 3.12, and the default tag of a Runtime follows its default Python.
# Runtime 3.3-2 ships Airflow 3.3.0; 3.3-5 and 3.3-6 ship 3.3.1 (see docs/deployment.md).
# Its ONBUILD steps install packages.txt (apt) and requirements.txt and copy the project.
FROM astrocrpublic.azurecr.io/runtime:3.3-6-python-3.12

# The library is imported as `vieweratlas` from include/, as on MWAA and in tests.
ENV PYTHONPATH=/usr/local/airflow/include

# TwitchDownloaderCLI for VOD chat downloads in local mode (VIEWERATLAS_DOWNLOAD_MODE=local),
# the release docker/vod-downloader.Dockerfile bundles. Set the sha256 of
# TwitchDownloaderCLI-<version>-Linux-x64.zip to install it; left empty, the CLI is not
# installed and local VOD downloads exit 4 ("CLI missing"). Nothing unverified is installed.
ARG TWITCH_DOWNLOADER_VERSION=1.56.5
ARG TWITCH_DOWNLOADER_SHA256=
ENV DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 \
    VIEWERATLAS_DOWNLOADER_CLI=/usr/local/bin/TwitchDownloaderCLI
USER root
RUN python - <<'PY'
import hashlib, os, urllib.request, zipfile
version, expected = os.environ["TWITCH_DOWNLOADER_VERSION"], os.environ["TWITCH_DOWNLOADER_SHA256"]
if not expected:
    print("TWITCH_DOWNLOADER_SHA256 not set: TwitchDownloaderCLI not installed")
    raise SystemExit(0)
asset = f"TwitchDownloaderCLI-{version}-Linux-x64.zip"
url = f"https://github.com/lay295/TwitchDownloader/releases/download/{version}/{asset}"
path, _ = urllib.request.urlretrieve(url)
actual = hashlib.sha256(open(path, "rb").read()).hexdigest()
if actual != expected.lower():
    raise SystemExit(f"{asset}: sha256 {actual} is not TWITCH_DOWNLOADER_SHA256 {expected}")
zipfile.ZipFile(path).extract("TwitchDownloaderCLI", "/usr/local/bin")
os.chmod("/usr/local/bin/TwitchDownloaderCLI", 0o755)
os.remove(path)
PY

USER astro
