-- finseed on Citus, part 1 of 2: distribute finseed's empty tables, before any shard loads.
-- Untested here (finseed's tests run on PostgreSQL only); written from Citus's documentation.
--
--   finseed seed -p volume --database-url "$COORDINATOR" --steps create    # empty tables
--   psql "$COORDINATOR" -f schemas/variants/citus.sql                     # this file
--   (the shards: --shard auto/N --steps create,load, through the coordinator)
--   finseed seed -p volume --database-url "$COORDINATOR" --await-shards N --steps indexes,analyze
--   psql "$COORDINATOR" -f schemas/variants/citus-keys.sql                # part 2: keys
--
-- transactions, and everything read per context, is distributed by context_id and co-located
-- with contexts (distributed by id), so a context's rows, its members, budgets and insights
-- live on one worker and the per-context queries of the benchmark route to one shard. users
-- and categories are small and referenced from everywhere: reference tables (a copy on every
-- node). transaction_splits has no context_id column, so it is distributed by transaction_id
-- on its own; its foreign key to transactions cannot be kept (see citus-keys.sql).

SELECT create_reference_table('users');
SELECT create_reference_table('categories');
SELECT create_distributed_table('contexts', 'id');
SELECT create_distributed_table('context_members', 'context_id', colocate_with => 'contexts');
SELECT create_distributed_table('budgets', 'context_id', colocate_with => 'contexts');
SELECT create_distributed_table('transactions', 'context_id', colocate_with => 'contexts');
SELECT create_distributed_table('ai_insights', 'context_id', colocate_with => 'contexts');
SELECT create_distributed_table('transaction_splits', 'transaction_id', colocate_with => 'none');
