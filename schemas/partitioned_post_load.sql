-- finseed: the partitioned layout's keys. Statements here replace post_load.sql's statements
-- that make a constraint of the same name; everything else (the other keys, and every index,
-- which PostgreSQL builds on each partition) is as in post_load.sql. A statement with {month}
-- is made once per month of the window, {month} becoming the partitions' suffix (p2024_01).

-- step: primary_keys
ALTER TABLE transactions       ADD CONSTRAINT transactions_pkey       PRIMARY KEY (id, transaction_date);
ALTER TABLE transaction_splits ADD CONSTRAINT transaction_splits_pkey PRIMARY KEY (transaction_id, user_id, transaction_date);

-- step: foreign_keys
-- A split's key to its transaction is declared per month, from the month's splits partition to
-- the same month's transactions partition: it checks exactly the pairs (transaction_id,
-- transaction_date) a key to the parent would (a split is stored in its transaction's month, and
-- the key requires that very (id, date) to exist), but PostgreSQL validates a key to the parent
-- once per referencing partition by probing every transactions partition: 53 s on
-- transaction-flow against under 2 s for these (and they build in parallel).
ALTER TABLE transaction_splits_{month} ADD CONSTRAINT transaction_splits_tx_fk_{month} FOREIGN KEY (transaction_id, transaction_date) REFERENCES transactions_{month} (id, transaction_date);
-- The keys of `transactions` itself, checked month by month in parallel: a key added to the
-- partitioned parent is validated partition after partition by one server process (one core;
-- both keys lock `transactions`, so they also ran one after the other: the foreign_keys step of
-- `volume` kept the machine 57% busy). Each month's key is added NOT VALID (a moment's lock),
-- then validated on its own (VALIDATE CONSTRAINT locks only that partition, and the referenced
-- table in ROW SHARE, so months validate side by side over --jobs connections). The parent's
-- key comes last: PostgreSQL adopts each partition's validated key of the same definition
-- instead of checking the rows again, so the parent ends with the same key as if it had been
-- added whole, which every future partition inherits.
ALTER TABLE transactions_{month} ADD CONSTRAINT transactions_member_fk_{month} FOREIGN KEY (context_id, user_id) REFERENCES context_members (context_id, user_id) NOT VALID;
ALTER TABLE transactions       ADD CONSTRAINT transactions_member_fk       FOREIGN KEY (context_id, user_id) REFERENCES context_members (context_id, user_id);
ALTER TABLE transactions_{month} ADD CONSTRAINT transactions_category_fk_{month} FOREIGN KEY (category_id) REFERENCES categories (id) NOT VALID;
ALTER TABLE transactions       ADD CONSTRAINT transactions_category_fk     FOREIGN KEY (category_id) REFERENCES categories (id);
ALTER TABLE ai_insights        ADD CONSTRAINT ai_insights_transaction_fk   FOREIGN KEY (related_transaction_id, related_transaction_date) REFERENCES transactions (id, transaction_date);
