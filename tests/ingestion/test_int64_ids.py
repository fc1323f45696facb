"""Twitch ids above int64: dropped where they arrive, never an overflow at write time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from helix_server import stream

from conftest import chat_doc
from vieweratlas import lake as keys
from vieweratlas import vod_downloader as program
from vieweratlas.channel_refresh import write_refresh

TOO_BIG = str(2**63)  # 19 digits, passes NUMERIC_ID_RE, one above int64
TWENTY_DIGITS = "9" * 20
AT = datetime(2026, 11, 21, 14, tzinfo=UTC)


@pytest.mark.parametrize("bad_id", [TOO_BIG, TWENTY_DIGITS])
def test_int_id_rejects_values_above_int64(bad_id):
    assert keys.NUMERIC_ID_RE.match(bad_id)  # fine in a key ...
    with pytest.raises(keys.UnsafeKeyError, match="int64"):
        keys.int_id(bad_id)  # ... but not in an int64 column
    assert keys.int_id(str(2**63 - 1)) == 2**63 - 1


@pytest.mark.parametrize("data_root", ["file"], indirect=True)
def test_channel_refresh_drops_a_stream_whose_id_overflows(lake):
    streams = [stream(rank) for rank in range(1, 11)]
    streams[3] = stream(4, user_id=TWENTY_DIGITS)
    result = write_refresh(lake, streams, AT, min_ratio=0.5)
    rows = lake.read_parquet(keys.channels_hourly(AT, AT.hour)).to_pylist()
    assert [r["login"] for r in rows] == [f"chan_{n}" for n in (1, 2, 3, 5, 6, 7, 8, 9, 10)]
    assert result is not None


@pytest.mark.parametrize("data_root", ["file"], indirect=True)
def test_vod_chat_drops_commenters_whose_id_overflows(lake, data_root, fake_cli):
    start = AT - timedelta(hours=3)
    comments = [(5.0, "601", "zoe_42", "Z"), (6.0, TWENTY_DIGITS, "big_id", "B")]
    fake_cli.add_chat("3001", chat_doc("3001", "1001", "chan_1", start, comments))
    assert program.main(["--vod-id", "3001", "--data-root", data_root]) == 0
    rows = lake.read_parquet(keys.vod_presence(start.date(), "3001")).to_pylist()
    assert [(r["user_id"], r["user_login"]) for r in rows] == [(601, "zoe_42")]
    assert lake.read_json(keys.vod_result("3001"))["dropped"] == 1


@pytest.mark.parametrize("data_root", ["file"], indirect=True)
def test_vod_whose_channel_id_overflows_is_a_permanent_failure(lake, data_root, fake_cli):
    start = AT - timedelta(hours=3)
    doc = chat_doc("3002", "1001", "chan_1", start, [(5.0, "601", "zoe_42", "Z")])
    doc["streamer"]["id"] = int(TWENTY_DIGITS)
    fake_cli.add_chat("3002", doc)
    code = program.main(["--vod-id", "3002", "--data-root", data_root])
    assert code == program.EXIT_PERMANENT
    assert lake.read_json(keys.vod_result("3002"))["permanent"] is True
