-- Shared validation of column names and SQL expressions passed as text.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

CREATE TABLE val_events (user_id text, ts timestamptz, event text, "Step; DROP TABLE val_events" text);

-- columns: found, quoted, typed
SELECT apivalue._column('val_events', 'event');
SELECT apivalue._column('val_events', 'Step; DROP TABLE val_events');
SELECT apivalue._column('val_events', 'ts', 'time column', '{timestamptz,timestamp}');
SELECT apivalue._column('val_events', 'nope', 'user column');               -- 42703
SELECT apivalue._column('val_events', 'event', 'time column', '{timestamptz}'); -- 42804
SELECT apivalue._column('no_such_table', 'event');                          -- 42P01

-- expressions: one expression only, typed, columns resolved
SELECT apivalue._condition('val_events', $$event = 'signup'$$);
SELECT apivalue._condition('val_events', $$event = 'signup' -- trailing comment$$);
SELECT apivalue._expression('val_events', 'upper(event)', 'breakdown');
SELECT apivalue._condition('val_events', 'upper(event)', 'step 1');          -- 42804
SELECT apivalue._condition('val_events', 'no_col = 1');                      -- 42703
SELECT apivalue._condition('val_events', '');                                -- empty
SELECT apivalue._condition('val_events', 'true; DROP TABLE val_events');     -- two statements
SELECT apivalue._condition('val_events', 'true) FROM val_events; DROP TABLE val_events; SELECT (true');
SELECT apivalue._condition('val_events', 'true) FROM val_events WHERE (true'); -- breaks out of ()
SELECT apivalue._condition('val_events', 'true), (false');                   -- second target
SELECT apivalue._condition('val_events', 'true) UNION SELECT (true');
SELECT apivalue._condition('val_events',
  'EXISTS (WITH d AS (DELETE FROM val_events RETURNING 1) SELECT 1 FROM d)'); -- data-modifying WITH
SELECT apivalue._condition('val_events', NULL);
-- the table is intact
SELECT count(*) AS columns_left FROM pg_attribute WHERE attrelid = 'val_events'::regclass AND attnum > 0;
DROP TABLE val_events;

-- The differential helper itself reports what differs.
\i test/data/diff.sql
SELECT * FROM avtest.diff($$SELECT x::text AS k, (x * 2)::text AS v FROM generate_series(1, 5) x$$,
                          $$SELECT x::text AS k, (x + x)::text AS v FROM generate_series(1, 5) x$$);
SELECT * FROM avtest.diff($$SELECT x::text AS k, (x * 2)::text AS v FROM generate_series(1, 5) x$$,
                          $$SELECT x::text AS k, (x * x)::text AS v FROM generate_series(2, 6) x$$);
