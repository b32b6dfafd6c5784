-- finseed on Citus, part 2 of 2: keys after the load, in place of finseed's primary_keys and
-- foreign_keys steps (schemas/post_load.sql), which Citus refuses as they are: on a distributed
-- table every primary key and unique constraint must contain the distribution column, and a
-- foreign key between distributed tables must join on it. Same names as post_load.sql, so a
-- later `finseed seed --steps primary_keys` finds the primary keys present and keeps them.
-- Untested here; written from Citus's documentation. Run after `--await-shards N` finished.

-- Primary keys: transactions and ai_insights gain context_id in front of id.
ALTER TABLE users              ADD CONSTRAINT users_pkey              PRIMARY KEY (id);
ALTER TABLE contexts           ADD CONSTRAINT contexts_pkey           PRIMARY KEY (id);
ALTER TABLE context_members    ADD CONSTRAINT context_members_pkey    PRIMARY KEY (context_id, user_id);
ALTER TABLE categories         ADD CONSTRAINT categories_pkey         PRIMARY KEY (id);
ALTER TABLE budgets            ADD CONSTRAINT budgets_pkey            PRIMARY KEY (context_id, category_id, month);
ALTER TABLE transactions       ADD CONSTRAINT transactions_pkey       PRIMARY KEY (context_id, id);
ALTER TABLE transaction_splits ADD CONSTRAINT transaction_splits_pkey PRIMARY KEY (transaction_id, user_id);
ALTER TABLE ai_insights        ADD CONSTRAINT ai_insights_pkey        PRIMARY KEY (context_id, id);
ALTER TABLE users              ADD CONSTRAINT users_email_key         UNIQUE (email);
ALTER TABLE users              ADD CONSTRAINT users_cpf_key           UNIQUE (cpf);

-- Foreign keys: distributed → reference and co-located distributed → distributed on the
-- distribution column. An insight's linked transaction is one of its context's own, so that
-- key becomes (context_id, related_transaction_id) → transactions (context_id, id).
ALTER TABLE contexts           ADD CONSTRAINT contexts_owner_fk            FOREIGN KEY (owner_id)    REFERENCES users (id);
ALTER TABLE context_members    ADD CONSTRAINT context_members_context_fk   FOREIGN KEY (context_id)  REFERENCES contexts (id);
ALTER TABLE context_members    ADD CONSTRAINT context_members_user_fk      FOREIGN KEY (user_id)     REFERENCES users (id);
ALTER TABLE categories         ADD CONSTRAINT categories_parent_fk         FOREIGN KEY (parent_id)   REFERENCES categories (id);
ALTER TABLE budgets            ADD CONSTRAINT budgets_context_fk           FOREIGN KEY (context_id)  REFERENCES contexts (id);
ALTER TABLE budgets            ADD CONSTRAINT budgets_category_fk          FOREIGN KEY (category_id) REFERENCES categories (id);
ALTER TABLE transactions       ADD CONSTRAINT transactions_member_fk       FOREIGN KEY (context_id, user_id) REFERENCES context_members (context_id, user_id);
ALTER TABLE transactions       ADD CONSTRAINT transactions_category_fk     FOREIGN KEY (category_id) REFERENCES categories (id);
ALTER TABLE transaction_splits ADD CONSTRAINT transaction_splits_user_fk   FOREIGN KEY (user_id)     REFERENCES users (id);
ALTER TABLE transaction_splits ADD CONSTRAINT transaction_splits_approver_fk FOREIGN KEY (approved_by) REFERENCES users (id);
ALTER TABLE ai_insights        ADD CONSTRAINT ai_insights_user_fk          FOREIGN KEY (user_id)     REFERENCES users (id);
ALTER TABLE ai_insights        ADD CONSTRAINT ai_insights_context_fk       FOREIGN KEY (context_id)  REFERENCES contexts (id);
ALTER TABLE ai_insights        ADD CONSTRAINT ai_insights_category_fk      FOREIGN KEY (related_category_id) REFERENCES categories (id);
ALTER TABLE ai_insights        ADD CONSTRAINT ai_insights_transaction_fk   FOREIGN KEY (context_id, related_transaction_id) REFERENCES transactions (context_id, id);

-- Not kept on Citus (each references a table that is not co-located on that column):
--   categories.context_id → contexts (a reference table cannot reference a distributed one);
--   transaction_splits.transaction_id → transactions (splits are not distributed by context_id).
-- Check them with a query when you need them (an anti-join on the coordinator).
