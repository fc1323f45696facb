"""Placeholder daily analysis (replaced by the real chain)."""

from __future__ import annotations

from airflow.sdk import dag, task

from vieweratlas.dag_defaults import DEFAULT_ARGS, START_DATE


@dag(
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    default_args=DEFAULT_ARGS,
    tags=["vieweratlas", "analysis"],
    doc_md="Placeholder: writes a marker into the data lake for the logical date.",
)
def daily_analysis():
    @task
    def write_marker(ds=None) -> str:
        from vieweratlas.airflow_glue import open_lake, runtime_settings
        from vieweratlas.lake import analysis_prefix

        lake = open_lake(runtime_settings())
        return lake.write_json(analysis_prefix(ds) + "marker.json", {"date": ds})

    write_marker()


daily_analysis()
