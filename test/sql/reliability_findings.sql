-- Findings of the garden and SQLsmith layers, kept as regression tests.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

-- Crashed the backend (NULL text argument read without a check): now STRICT.
SELECT apivalue._expression_type(NULL, NULL, NULL);
SELECT apivalue._expression_type('pg_class', NULL::text, 'x');

-- Support functions with SQL-visible states, called outside an aggregate:
-- a clean error with a SQLSTATE, not XX000.
\set VERBOSITY sqlstate
SELECT apivalue._sum_arrays_accum(NULL::bigint[], ARRAY[1,2]::int[]);
\set VERBOSITY default

-- A huge key name is refused by name, not by an index-row error.
SELECT apivalue.add_pseudonym_key(repeat('k', 5000), '\x01'::bytea);

-- A regclass that names nothing yields no status instead of a syntax error.
SELECT apivalue.metric_quality_status(ARRAY['pg_class'::regclass], 999999::oid::regclass, 999998::oid::regclass);
