-- The project database. The runner creates it too (it keeps schema_migrations there), so this
-- file only states it; later migrations add the tables (facts, snapshots, rollups, views).
-- Every statement must be re-runnable: a file that fails halfway is started again.
CREATE DATABASE IF NOT EXISTS {database};
