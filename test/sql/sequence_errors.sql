-- sequence_match / sequence_count / sequence_next_node: every bad input is
-- a clear error with the right SQLSTATE, never a crash.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

CREATE TABLE seqerr (t timestamptz, e text);
INSERT INTO seqerr VALUES ('2024-01-01 00:00:01+00', 'A'), ('2024-01-01 00:00:02+00', 'B');

-- Each case runs through seqerr_run, which shows the SQLSTATE and message.
CREATE FUNCTION seqerr_run(q text, OUT state text, OUT message text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  state := 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT;
END $$;

-- malformed patterns: each error quotes the pattern, the text from the
-- offending position, and the 1-based position (42601 syntax, 22023 event
-- number out of range)
SELECT p AS pattern, r.*
FROM (VALUES
  ('(?'), ('(?x)'), ('(?1)(?x)'), ('(?1'), ('(?1]'), ('(?t'), ('(?t<)'), ('(?t~5)'),
  ('(?t<=5)(?t>=3)'), ('(?1)(?t<=5)(?t>=3)(?2)'), ('abc'), (' (?1)'), ('(?1) (?2)'),
  ('(?3)'), ('(?0)'), ('(?99999999999999999999)'), ('(?t>99999999999999999999)'),
  ('((?1))'), ('.(?1'), ('(?1)x'), ('(?-1)'), ('(?+1)'), ('(?t=5)'), ('(?1)(?2)*'),
  ('é(?1)'), ('(?1)(?2)'), ('(?t<5)(?1)')) v(p),
LATERAL seqerr_run(format('SELECT apivalue.sequence_match(%L, t, e = %L, e = %L) FROM seqerr', p, 'A', 'B')) r;

SELECT q AS query, r.*
FROM (VALUES
  -- event numbers are checked against the number of conditions given, in both functions
  ($$SELECT apivalue.sequence_count('(?1)(?3)', t, e = 'A', e = 'B') FROM seqerr$$),
  ($$SELECT apivalue.sequence_count('(?1)(?x)', t, e = 'A', e = 'B') FROM seqerr$$),
  -- NULL pattern
  ($$SELECT apivalue.sequence_match(NULL, t, e = 'A') FROM seqerr$$),
  -- a different pattern within one group
  ($$SELECT apivalue.sequence_count(CASE WHEN e = 'A' THEN '(?1)' ELSE '(?2)' END, t, e = 'A', e = 'B') FROM seqerr$$),
  -- conditions that are not boolean
  ($$SELECT apivalue.sequence_match('(?1)', t, e) FROM seqerr$$),
  ($$SELECT apivalue.sequence_match('(?1)', t, e = 'A', 1) FROM seqerr$$),
  -- no condition at all: no such function
  ($$SELECT apivalue.sequence_match('(?1)', t) FROM seqerr$$),
  -- 33 conditions
  ($$SELECT apivalue.sequence_match('(?1)', t, true, true, true, true, true, true, true, true,
       true, true, true, true, true, true, true, true, true, true, true, true, true, true,
       true, true, true, true, true, true, true, true, true, true, true) FROM seqerr$$),
  -- conditions as a VARIADIC array
  ($$SELECT apivalue.sequence_match('(?1)', t, VARIADIC ARRAY[e = 'A']) FROM seqerr$$),
  -- a time type that is none of the three
  ($$SELECT apivalue.sequence_match('(?1)', 1.5, true)$$),
  -- infinite timestamps
  ($$SELECT apivalue.sequence_match('(?1)', 'infinity'::timestamptz, true)$$),
  ($$SELECT apivalue.sequence_count('(?1)', '-infinity'::timestamp, true)$$),
  ($$SELECT apivalue.sequence_next_node('forward', 'head', 'infinity'::timestamptz, 'x', true, true)$$),
  -- sequence_next_node options
  ($$SELECT apivalue.sequence_next_node('sideways', 'head', t, e, true, e = 'A') FROM seqerr$$),
  ($$SELECT apivalue.sequence_next_node('forward', 'middle', t, e, true, e = 'A') FROM seqerr$$),
  ($$SELECT apivalue.sequence_next_node('Forward', 'head', t, e, true, e = 'A') FROM seqerr$$),
  ($$SELECT apivalue.sequence_next_node('backward', 'head', t, e, true, e = 'A') FROM seqerr$$),
  ($$SELECT apivalue.sequence_next_node('forward', 'tail', t, e, true, e = 'A') FROM seqerr$$),
  ($$SELECT apivalue.sequence_next_node(NULL, 'head', t, e, true, e = 'A') FROM seqerr$$),
  ($$SELECT apivalue.sequence_next_node('forward', NULL, t, e, true, e = 'A') FROM seqerr$$),
  ($$SELECT apivalue.sequence_next_node('forward', 'head', t, e, 1, e = 'A') FROM seqerr$$),
  ($$SELECT apivalue.sequence_next_node('forward', 'head', t, e, true, e) FROM seqerr$$),
  ($$SELECT apivalue.sequence_next_node('forward', 'head', t, e, true) FROM seqerr$$),
  ($$SELECT apivalue.sequence_next_node('forward', 'head', t, e, true, VARIADIC ARRAY[true]) FROM seqerr$$),
  ($$SELECT apivalue.sequence_next_node(CASE WHEN e = 'A' THEN 'forward' ELSE 'backward' END,
                                        'first_match', t, e, true, e = 'A') FROM seqerr$$)
) v(q), LATERAL seqerr_run(q) r;

DROP TABLE seqerr;
DROP FUNCTION seqerr_run;
