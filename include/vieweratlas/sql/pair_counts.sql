-- Exact pair weights of one window, as the local overlap engine computes them.
-- Runs on Athena (Trino) over the Glue table of daily presence and, in the tests,
-- on DuckDB over the same Parquet files; both engines must give identical results.
-- Placeholders ({...}) are filled by vieweratlas.athena.render with validated
-- numbers and dates only. Two statements, each after a "-- name:" line, both
-- starting from the common table expressions of "-- name: clean" (filled in as {clean}).

-- name: clean
seen AS (
    SELECT channel_id, user_id, COUNT(DISTINCT "date") AS days
    FROM {presence}
    WHERE "date" BETWEEN '{first_day}' AND '{last_day}'
    GROUP BY channel_id, user_id
),
broad AS (
    SELECT user_id
    FROM seen
    GROUP BY user_id
    HAVING COUNT(*) > {bot_share} * (SELECT COUNT(DISTINCT channel_id) FROM seen)
),
clean AS (
    SELECT channel_id, user_id, days
    FROM seen
    WHERE NOT {bot_filter} OR (
        user_id NOT IN ({known_bots})
        AND user_id NOT IN (SELECT user_id FROM broad)
    )
)

-- name: channels
WITH {clean}
SELECT
    channel_id,
    COUNT(*) AS chatters,
    CAST(SUM(CASE WHEN '{weighting}' = 'repeat' THEN days ELSE 1 END) AS DOUBLE) AS self_weight
FROM clean
GROUP BY channel_id
HAVING COUNT(*) >= {min_chatters}

-- name: pairs
WITH {clean},
kept AS (
    SELECT channel_id FROM clean GROUP BY channel_id HAVING COUNT(*) >= {min_chatters}
),
entries AS (
    SELECT c.channel_id, c.user_id, c.days
    FROM clean AS c
    JOIN kept AS k ON c.channel_id = k.channel_id
)
SELECT
    a.channel_id AS src_id,
    b.channel_id AS dst_id,
    CAST(SUM(CASE WHEN '{weighting}' = 'repeat' THEN LEAST(a.days, b.days) ELSE 1 END) AS DOUBLE)
        AS weight
FROM entries AS a
JOIN entries AS b ON a.user_id = b.user_id AND a.channel_id < b.channel_id
GROUP BY a.channel_id, b.channel_id
HAVING SUM(CASE WHEN '{weighting}' = 'repeat' THEN LEAST(a.days, b.days) ELSE 1 END) >= {min_shared}
