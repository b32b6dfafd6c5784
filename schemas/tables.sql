-- finseed: Financy tables, created before the load, with no keys or indexes.
-- Primary keys, foreign keys and indexes are in post_load.sql and are built after COPY,
-- as pg_restore does: building them once over the loaded rows is far cheaper than
-- maintaining them row by row.

CREATE TABLE IF NOT EXISTS users (
    id              bigint        NOT NULL,
    full_name       text          NOT NULL,
    email           text          NOT NULL,
    cpf             char(14)      NOT NULL,
    phone           text          NOT NULL,
    city            text          NOT NULL,
    state           char(2)       NOT NULL,
    timezone        text          NOT NULL,
    plan_tier       text          NOT NULL,
    monthly_income  numeric(12,2) NOT NULL,
    password_hash   text          NOT NULL,
    locale          text          NOT NULL,
    created_at      timestamptz   NOT NULL
);

CREATE TABLE IF NOT EXISTS contexts (
    id          bigint      NOT NULL,
    owner_id    bigint      NOT NULL,
    type        text        NOT NULL,
    subtype     text,
    name        text        NOT NULL,
    currency    char(3)     NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS context_members (
    context_id  bigint      NOT NULL,
    user_id     bigint      NOT NULL,
    role        text        NOT NULL,
    joined_at   timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS categories (
    id          bigint      NOT NULL,
    parent_id   bigint,
    context_id  bigint,
    name        text        NOT NULL,
    kind        text        NOT NULL,
    icon        text,
    color       text,
    is_system   boolean     NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS budgets (
    context_id     bigint        NOT NULL,
    category_id    bigint        NOT NULL,
    month          date          NOT NULL,
    limit_amount   numeric(12,2) NOT NULL,
    alert_percent  integer       NOT NULL,
    created_at     timestamptz   NOT NULL
);

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
);

CREATE TABLE IF NOT EXISTS transaction_splits (
    transaction_id  bigint        NOT NULL,
    user_id         bigint        NOT NULL,
    amount          numeric(14,2) NOT NULL,
    status          text          NOT NULL,
    approved_by     bigint,
    approved_at     timestamptz
);

CREATE TABLE IF NOT EXISTS ai_insights (
    id                      bigint       NOT NULL,
    user_id                 bigint       NOT NULL,
    context_id              bigint       NOT NULL,
    type                    text         NOT NULL,
    title                   text         NOT NULL,
    body                    text         NOT NULL,
    confidence              numeric(4,3) NOT NULL,
    model_version           text         NOT NULL,
    related_category_id     bigint,
    related_transaction_id  bigint,
    created_at              timestamptz  NOT NULL,
    is_read                 boolean      NOT NULL,
    read_at                 timestamptz,
    is_dismissed            boolean      NOT NULL
);
