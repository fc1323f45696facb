# Astro Runtime image for Airflow 3.3.1 (`astro dev start`).
FROM astrocrpublic.azurecr.io/runtime:3.3-2

# The library is imported as `vieweratlas` from include/, as on MWAA and in tests.
ENV PYTHONPATH=/usr/local/airflow/include
