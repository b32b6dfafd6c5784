-- An app-like Financy schema, as a team's migrations might have made it: UUID keys, enum
-- statuses, money in integer cents, renamed tables and columns, a NOT NULL tenant column with a
-- default, its own indexes, foreign keys, CHECK constraints and an audit trigger.
-- finseed loads into it through financy_app.map.toml (`finseed seed --map ...`); it never
-- creates, alters or drops these tables.

CREATE TYPE plan_tier    AS ENUM ('free', 'premium', 'family', 'business');
CREATE TYPE wallet_kind  AS ENUM ('personal', 'family', 'shared', 'business');
CREATE TYPE member_role  AS ENUM ('owner', 'admin', 'member', 'viewer');
CREATE TYPE entry_kind   AS ENUM ('expense', 'income', 'transfer');
CREATE TYPE entry_status AS ENUM ('posted', 'pending', 'cancelled');
CREATE TYPE split_status AS ENUM ('pending', 'approved', 'rejected');

CREATE TABLE app_users (
    user_uuid            uuid         PRIMARY KEY,
    tenant_id            integer      NOT NULL DEFAULT 1,
    full_name            varchar(120) NOT NULL,
    email                varchar(254) NOT NULL UNIQUE,
    cpf                  char(14)     NOT NULL,
    phone                varchar(32)  NOT NULL,
    city                 varchar(80)  NOT NULL,
    state                char(2)      NOT NULL,
    plan                 plan_tier    NOT NULL,
    monthly_income_cents bigint       NOT NULL CHECK (monthly_income_cents >= 0),
    password_hash        text         NOT NULL,
    settings             jsonb        NOT NULL,
    is_deleted           boolean      NOT NULL DEFAULT false,
    created_at           timestamp    NOT NULL,
    updated_at           timestamptz  NOT NULL DEFAULT now()
);

CREATE TABLE wallets (
    wallet_id   uuid        PRIMARY KEY,
    tenant_id   integer     NOT NULL DEFAULT 1,
    owner_uuid  uuid        NOT NULL REFERENCES app_users (user_uuid),
    kind        wallet_kind NOT NULL,
    subtype     text,
    title       varchar(80) NOT NULL,
    currency    char(3)     NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX wallets_owner_idx ON wallets (owner_uuid);

CREATE TABLE wallet_members (
    wallet_id  uuid        NOT NULL REFERENCES wallets (wallet_id),
    user_uuid  uuid        NOT NULL REFERENCES app_users (user_uuid),
    role       member_role NOT NULL,
    joined_at  timestamptz NOT NULL,
    PRIMARY KEY (wallet_id, user_uuid)
);
CREATE INDEX wallet_members_user_idx ON wallet_members (user_uuid);

CREATE TABLE spending_categories (
    category_id  uuid        PRIMARY KEY,
    parent_id    uuid        REFERENCES spending_categories (category_id),
    wallet_id    uuid        REFERENCES wallets (wallet_id),
    name         varchar(60) NOT NULL,
    kind         entry_kind  NOT NULL,
    icon         text,
    color        char(7),
    is_system    boolean     NOT NULL,
    created_at   timestamptz NOT NULL
);

CREATE TABLE budget_limits (
    wallet_id    uuid    NOT NULL REFERENCES wallets (wallet_id),
    category_id  uuid    NOT NULL REFERENCES spending_categories (category_id),
    month        date    NOT NULL,
    limit_cents  bigint  NOT NULL,
    alert_pct    smallint NOT NULL CHECK (alert_pct BETWEEN 1 AND 100),
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (wallet_id, category_id, month)
);

CREATE TABLE ledger_entries (
    entry_id      uuid          PRIMARY KEY,
    tenant_id     integer       NOT NULL DEFAULT 1,
    wallet_id     uuid          NOT NULL,
    user_uuid     uuid          NOT NULL REFERENCES app_users (user_uuid),
    category_id   uuid          REFERENCES spending_categories (category_id),
    amount_cents  bigint        NOT NULL,
    currency      char(3)       NOT NULL CHECK (currency IN ('BRL', 'USD', 'EUR')),
    description   varchar(200)  NOT NULL,
    merchant      varchar(120),
    booked_at     timestamptz   NOT NULL,
    entry_type    entry_kind    NOT NULL,
    status        entry_status  NOT NULL,
    source        jsonb         NOT NULL,
    ai_confidence numeric(4,3),
    is_recurring  boolean       NOT NULL,
    imported_by   text          NOT NULL,
    created_at    timestamptz   NOT NULL,
    FOREIGN KEY (wallet_id, user_uuid) REFERENCES wallet_members (wallet_id, user_uuid)
);
CREATE INDEX ledger_entries_wallet_booked_idx ON ledger_entries (wallet_id, booked_at DESC);
CREATE INDEX ledger_entries_category_idx ON ledger_entries (category_id);

CREATE TABLE ledger_splits (
    entry_id     uuid         NOT NULL REFERENCES ledger_entries (entry_id),
    user_uuid    uuid         NOT NULL REFERENCES app_users (user_uuid),
    amount_cents bigint       NOT NULL,
    status       split_status NOT NULL,
    approved_by  uuid         REFERENCES app_users (user_uuid),
    approved_at  timestamptz,
    PRIMARY KEY (entry_id, user_uuid)
);

-- The audit trail: one row per INSERT statement into ledger_entries.
CREATE TABLE audit_log (
    id          bigserial   PRIMARY KEY,
    table_name  text        NOT NULL,
    action      text        NOT NULL,
    rows        bigint      NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION audit_ledger_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (table_name, action, rows)
    SELECT TG_TABLE_NAME, TG_OP, count(*) FROM new_rows;
    RETURN NULL;
END
$$;

CREATE TRIGGER ledger_entries_audit
    AFTER INSERT ON ledger_entries
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION audit_ledger_insert();
