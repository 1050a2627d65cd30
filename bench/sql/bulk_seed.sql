-- Bulk-seeds requests :first .. :last (see seed_requests.sql) fast: the
-- indexes and constraints of resource_requests and progress_events are read
-- from the catalog, dropped, the rows inserted set-based, and everything put
-- back (unique and primary keys, plain indexes, then foreign keys, which
-- validates them), then ANALYZE and VACUUM. Whatever indexes the migrations
-- define are the ones rebuilt, so this follows schema changes by itself.
-- Durability is not relaxed: every step is ordinary, WAL-logged and fsynced.
\set ON_ERROR_STOP on
SET maintenance_work_mem = '1GB';

CREATE TEMP TABLE bench_ddl (step int, statement text);

INSERT INTO bench_ddl
SELECT CASE WHEN contype = 'f' THEN 3 ELSE 1 END,
       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname,
              pg_get_constraintdef(oid))
FROM pg_constraint
WHERE contype IN ('p', 'u', 'f')
  AND (conrelid IN ('resource_requests'::regclass, 'progress_events'::regclass)
       OR confrelid IN ('resource_requests'::regclass, 'progress_events'::regclass));

INSERT INTO bench_ddl
SELECT 2, pg_get_indexdef(indexrelid)
FROM pg_index
WHERE indrelid IN ('resource_requests'::regclass, 'progress_events'::regclass)
  AND indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE conindid <> 0);

DO $$
DECLARE
    item record;
BEGIN
    FOR item IN
        SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
        WHERE contype IN ('p', 'u', 'f')
          AND (conrelid IN ('resource_requests'::regclass, 'progress_events'::regclass)
               OR confrelid IN ('resource_requests'::regclass, 'progress_events'::regclass))
        ORDER BY contype = 'f' DESC
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', item.tbl, item.conname);
    END LOOP;
    FOR item IN
        SELECT indexrelid::regclass AS idx FROM pg_index
        WHERE indrelid IN ('resource_requests'::regclass, 'progress_events'::regclass)
    LOOP
        EXECUTE format('DROP INDEX %s', item.idx);
    END LOOP;
END
$$;

\ir seed_requests.sql

DO $$
DECLARE
    item record;
BEGIN
    FOR item IN SELECT statement FROM bench_ddl ORDER BY step LOOP
        EXECUTE item.statement;
    END LOOP;
END
$$;

VACUUM ANALYZE resource_requests;
VACUUM ANALYZE progress_events;
CHECKPOINT;
