-- finseed: keys, constraints and indexes, applied after the load.
-- Each `-- step:` section is one timed step of `finseed seed`; every statement is
-- idempotent-guarded by the seeder (it skips constraints and indexes that already exist).

-- step: primary_keys
ALTER TABLE users              ADD CONSTRAINT users_pkey              PRIMARY KEY (id);
ALTER TABLE contexts           ADD CONSTRAINT contexts_pkey           PRIMARY KEY (id);
ALTER TABLE context_members    ADD CONSTRAINT context_members_pkey    PRIMARY KEY (context_id, user_id);
ALTER TABLE categories         ADD CONSTRAINT categories_pkey         PRIMARY KEY (id);
ALTER TABLE budgets            ADD CONSTRAINT budgets_pkey            PRIMARY KEY (context_id, category_id, month);
ALTER TABLE transactions       ADD CONSTRAINT transactions_pkey       PRIMARY KEY (id);
ALTER TABLE transaction_splits ADD CONSTRAINT transaction_splits_pkey PRIMARY KEY (transaction_id, user_id);
ALTER TABLE ai_insights        ADD CONSTRAINT ai_insights_pkey        PRIMARY KEY (id);
ALTER TABLE users              ADD CONSTRAINT users_email_key         UNIQUE (email);
ALTER TABLE users              ADD CONSTRAINT users_cpf_key           UNIQUE (cpf);

-- step: foreign_keys
-- transactions has no separate keys to contexts (context_id) or users (user_id): both follow
-- from transactions_member_fk, since every (context_id, user_id) it admits is a row of
-- context_members, whose own keys point at contexts and users. Each would cost one more full
-- scan of the largest table (on `volume`, about a quarter of the foreign-key step each) and
-- check nothing the composite key does not. (ON DELETE behaviour is the same: none cascades.)
ALTER TABLE contexts           ADD CONSTRAINT contexts_owner_fk            FOREIGN KEY (owner_id)    REFERENCES users (id);
ALTER TABLE context_members    ADD CONSTRAINT context_members_context_fk   FOREIGN KEY (context_id)  REFERENCES contexts (id);
ALTER TABLE context_members    ADD CONSTRAINT context_members_user_fk      FOREIGN KEY (user_id)     REFERENCES users (id);
ALTER TABLE categories         ADD CONSTRAINT categories_parent_fk         FOREIGN KEY (parent_id)   REFERENCES categories (id);
ALTER TABLE categories         ADD CONSTRAINT categories_context_fk        FOREIGN KEY (context_id)  REFERENCES contexts (id);
ALTER TABLE budgets            ADD CONSTRAINT budgets_context_fk           FOREIGN KEY (context_id)  REFERENCES contexts (id);
ALTER TABLE budgets            ADD CONSTRAINT budgets_category_fk          FOREIGN KEY (category_id) REFERENCES categories (id);
ALTER TABLE transactions       ADD CONSTRAINT transactions_member_fk       FOREIGN KEY (context_id, user_id) REFERENCES context_members (context_id, user_id);
ALTER TABLE transactions       ADD CONSTRAINT transactions_category_fk     FOREIGN KEY (category_id) REFERENCES categories (id);
ALTER TABLE transaction_splits ADD CONSTRAINT transaction_splits_tx_fk     FOREIGN KEY (transaction_id) REFERENCES transactions (id);
ALTER TABLE transaction_splits ADD CONSTRAINT transaction_splits_user_fk   FOREIGN KEY (user_id)     REFERENCES users (id);
ALTER TABLE transaction_splits ADD CONSTRAINT transaction_splits_approver_fk FOREIGN KEY (approved_by) REFERENCES users (id);
ALTER TABLE ai_insights        ADD CONSTRAINT ai_insights_user_fk          FOREIGN KEY (user_id)     REFERENCES users (id);
ALTER TABLE ai_insights        ADD CONSTRAINT ai_insights_context_fk       FOREIGN KEY (context_id)  REFERENCES contexts (id);
ALTER TABLE ai_insights        ADD CONSTRAINT ai_insights_category_fk      FOREIGN KEY (related_category_id) REFERENCES categories (id);
ALTER TABLE ai_insights        ADD CONSTRAINT ai_insights_transaction_fk   FOREIGN KEY (related_transaction_id) REFERENCES transactions (id);

-- step: indexes
CREATE INDEX transactions_context_date_idx  ON transactions (context_id, transaction_date DESC, id DESC);
CREATE INDEX transactions_user_idx          ON transactions (user_id);
CREATE INDEX transactions_category_idx      ON transactions (category_id);
CREATE INDEX transaction_splits_user_idx    ON transaction_splits (user_id);
CREATE INDEX context_members_user_idx       ON context_members (user_id);
CREATE INDEX contexts_owner_idx             ON contexts (owner_id);
CREATE INDEX categories_context_idx         ON categories (context_id);
CREATE INDEX categories_parent_idx          ON categories (parent_id);
CREATE INDEX ai_insights_user_created_idx   ON ai_insights (user_id, created_at DESC);
CREATE INDEX ai_insights_context_idx        ON ai_insights (context_id);
