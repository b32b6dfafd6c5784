-- finseed: derived tables, built by the `rollups` step of `finseed seed` after the indexes.
-- The step builds the table, its index and its record in finseed_owned in one transaction, so
-- the table either exists complete or not at all; it is rebuilt when the transactions it was
-- built from changed (its comment records their count).

-- aggregated_analytics: the daily rollups per context, category and type that the dashboard
-- reads (the performance plan's `dashboard_analytics_load` data requirement). One row per
-- (context_id, category_id, day, type) with at least one transaction that is not cancelled;
-- category_id is NULL for uncategorised transactions. amount is the signed sum of the
-- transactions' amounts (expenses negative, as in transactions), tx_count their number.
-- CREATE TABLE AS lets PostgreSQL scan and aggregate `transactions` with parallel workers, and
-- on a wal_level=minimal server the new table is written without WAL. The rows are sorted by
-- context and day, the order the dashboard reads them in.
-- table: aggregated_analytics
CREATE TABLE aggregated_analytics AS
SELECT context_id,
       category_id,
       transaction_date          AS day,
       type,
       sum(amount)::numeric(16,2) AS amount,
       count(*)::integer          AS tx_count
FROM transactions
WHERE status <> 'cancelled'
GROUP BY context_id, transaction_date, category_id, type
ORDER BY context_id, transaction_date, category_id, type;
ALTER TABLE aggregated_analytics
    ALTER COLUMN context_id SET NOT NULL,
    ALTER COLUMN day SET NOT NULL,
    ALTER COLUMN type SET NOT NULL,
    ALTER COLUMN amount SET NOT NULL,
    ALTER COLUMN tx_count SET NOT NULL;
CREATE INDEX aggregated_analytics_context_day_idx ON aggregated_analytics (context_id, day);
