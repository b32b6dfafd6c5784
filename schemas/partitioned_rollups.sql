-- finseed: the partitioned layout's rollups (rollups.sql for `--layout partitioned`). The same
-- rows as rollups.sql's aggregated_analytics, partitioned by month of `day` like the
-- transactions they come from: one partition per month, built from the same month's
-- transactions partition, over `--jobs` connections, each month in one transaction (create,
-- aggregate, index, attach), so a kill leaves whole months and the rerun builds the others.
-- Within a month the rows are in context and day order, the order the dashboard reads them.
-- Each month sorts a few million rows instead of one sort of all of them: on `volume` the
-- whole-table build took 161 s (one sort of 100M rows, mostly on one core).
-- {month} becomes the partition's suffix (p2024_01), {from} and {to} its bounds.

-- table: aggregated_analytics
CREATE TABLE aggregated_analytics (
    context_id   bigint        NOT NULL,
    category_id  bigint,
    day          date          NOT NULL,
    type         text          NOT NULL,
    amount       numeric(16,2) NOT NULL,
    tx_count     integer       NOT NULL
) PARTITION BY RANGE (day);

-- month: aggregated_analytics
CREATE TABLE aggregated_analytics_{month} AS
SELECT context_id,
       category_id,
       transaction_date          AS day,
       type,
       sum(amount)::numeric(16,2) AS amount,
       count(*)::integer          AS tx_count
FROM transactions_{month}
WHERE status <> 'cancelled'
GROUP BY context_id, transaction_date, category_id, type
ORDER BY context_id, transaction_date, category_id, type;
ALTER TABLE aggregated_analytics_{month}
    ALTER COLUMN context_id SET NOT NULL,
    ALTER COLUMN day SET NOT NULL,
    ALTER COLUMN type SET NOT NULL,
    ALTER COLUMN amount SET NOT NULL,
    ALTER COLUMN tx_count SET NOT NULL,
    ADD CONSTRAINT aggregated_analytics_{month}_month CHECK (day >= '{from}' AND day < '{to}');
CREATE INDEX aggregated_analytics_{month}_context_day_idx ON aggregated_analytics_{month} (context_id, day);
ALTER TABLE aggregated_analytics ATTACH PARTITION aggregated_analytics_{month} FOR VALUES FROM ('{from}') TO ('{to}');
ALTER TABLE aggregated_analytics_{month} DROP CONSTRAINT aggregated_analytics_{month}_month;

-- index: aggregated_analytics
-- On the parent, once every month is attached: it adopts the months' own indexes (same
-- columns) instead of building anything.
CREATE INDEX aggregated_analytics_context_day_idx ON aggregated_analytics (context_id, day);
