# Astro Runtime image for Airflow 3.3.1 (`astro dev start`).
# Runtime 3.3-2 ships Airflow 3.3.0; 3.3-5 and 3.3-6 ship 3.3.1 (see docs/deployment.md).
# Its ONBUILD steps install packages.txt (apt) and requirements.txt (pip) and copy the project.
FROM astrocrpublic.azurecr.io/runtime:3.3-6

# The library is imported as `vieweratlas` from include/, as on MWAA and in tests.
ENV PYTHONPATH=/usr/local/airflow/include

# TwitchDownloaderCLI for VOD chat downloads in local mode (VIEWERATLAS_DOWNLOAD_MODE=local).
# A self-contained .NET binary; invariant globalization spares it the ICU libraries.
ARG TWITCH_DOWNLOADER_VERSION=1.56.5
ENV DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 \
    VIEWERATLAS_DOWNLOADER_CLI=/usr/local/bin/TwitchDownloaderCLI
USER root
RUN python -c "import io, sys, urllib.request, zipfile; \
url = 'https://github.com/lay295/TwitchDownloader/releases/download/{0}/TwitchDownloaderCLI-{0}-Linux-x64.zip'.format(sys.argv[1]); \
zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(url, timeout=120).read())).extract('TwitchDownloaderCLI', '/usr/local/bin')" \
      "${TWITCH_DOWNLOADER_VERSION}" \
 && chmod 0755 /usr/local/bin/TwitchDownloaderCLI
USER astro
