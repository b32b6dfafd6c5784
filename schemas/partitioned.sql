-- finseed: the partitioned layout (`--layout partitioned`, or `layout = "partitioned"` in a
-- profile). Tables not named here are as in tables.sql; these three replace theirs.
--
-- transactions and transaction_splits are range-partitioned by month of the transaction's date:
-- one partition per month of the profile's window, named <table>_pYYYY_MM, each holding
-- [first day of the month, first day of the next). finseed creates the partitions in the load
-- step. A split is stored in its transaction's month, so both tables prune alike.
--
-- A unique key of a partitioned table must include the partition key, so the primary key of
-- transactions is (id, transaction_date) (the ids alone are still unique: finseed numbers them
-- 1..N), and whatever references a transaction carries its date: transaction_splits has
-- transaction_date, ai_insights has related_transaction_date (NULL exactly when
-- related_transaction_id is). Keys: partitioned_post_load.sql.
CREATE TABLE IF NOT EXISTS transactions (
    id                     bigint        NOT NULL,
    context_id             bigint        NOT NULL,
    user_id                bigint        NOT NULL,
    category_id            bigint,
    amount                 numeric(14,2) NOT NULL,
    currency               char(3)       NOT NULL,
    description            text          NOT NULL,
    merchant_name          text,
    transaction_date       date          NOT NULL,
    created_at             timestamptz   NOT NULL,
    type                   text          NOT NULL,
    status                 text          NOT NULL,
    input_method           text          NOT NULL,
    categorization_source  text          NOT NULL,
    ai_confidence          numeric(4,3),
    is_recurring           boolean       NOT NULL
) PARTITION BY RANGE (transaction_date);

CREATE TABLE IF NOT EXISTS transaction_splits (
    transaction_id    bigint        NOT NULL,
    user_id           bigint        NOT NULL,
    amount            numeric(14,2) NOT NULL,
    status            text          NOT NULL,
    approved_by       bigint,
    approved_at       timestamptz,
    transaction_date  date          NOT NULL
) PARTITION BY RANGE (transaction_date);

CREATE TABLE IF NOT EXISTS ai_insights (
    id                        bigint       NOT NULL,
    user_id                   bigint       NOT NULL,
    context_id                bigint       NOT NULL,
    type                      text         NOT NULL,
    title                     text         NOT NULL,
    body                      text         NOT NULL,
    confidence                numeric(4,3) NOT NULL,
    model_version             text         NOT NULL,
    related_category_id       bigint,
    related_transaction_id    bigint,
    created_at                timestamptz  NOT NULL,
    is_read                   boolean      NOT NULL,
    read_at                   timestamptz,
    is_dismissed              boolean      NOT NULL,
    related_transaction_date  date
);
