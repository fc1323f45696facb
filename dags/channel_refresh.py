"""channel_refresh: the top live Twitch channels, every hour, for the collector."""

from __future__ import annotations

from airflow.sdk import Asset, dag, task

from vieweratlas.dag_defaults import DEFAULT_ARGS, START_DATE
from vieweratlas.settings import dag_setting

CURRENT_CHANNELS = Asset(name="vieweratlas_channels_current")  # channels/current.json

DOC = """
### Channel refresh

Every hour (`VIEWERATLAS_CHANNEL_REFRESH_SCHEDULE`) asks Twitch Helix *Get Streams*
for the top `top_channels` live streams (50 pages of 100 for 5,000), de-duplicated
across pages, using the `twitch_default` connection.

* writes their metadata (id, login, display name, game, language, viewers, start,
  title) to `channels/hourly/date=…/hour=…/channels.parquet`;
* atomically replaces `channels/current.json`, the list the IRC collector watches,
  and updates the `vieweratlas_channels_current` asset.

If Twitch returns fewer than `min_channels_ratio` of the channels in the current
list, the current list is **kept** and the task fails without retries (an alert
goes out): a Helix hiccup must not shrink the collector's world.
"""


@dag(
    schedule=dag_setting("channel_refresh_schedule"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["vieweratlas", "ingestion", "twitch"],
    description="The top live Twitch channels (Helix) for the chat collector to watch.",
    doc_md=DOC,
)
def channel_refresh():
    @task(outlets=[CURRENT_CHANNELS])
    def refresh_channels(data_interval_end=None) -> dict:
        """Fetch the top streams and write the hourly metadata and the current list."""
        from vieweratlas.airflow_glue import open_lake, runtime_settings
        from vieweratlas.channel_refresh import refresh

        settings = runtime_settings()
        return refresh(open_lake(settings), settings, data_interval_end)

    refresh_channels()


channel_refresh()
