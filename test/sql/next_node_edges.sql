-- sequence_next_node: the rules of clickhouse-semantics.md as named cases,
-- and a randomized differential test against a plain PL/pgSQL reference.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

CREATE TABLE nne (name text, t int, v text);
-- rows inserted in reverse order: unsorted input
INSERT INTO nne SELECT name, t, v FROM (VALUES
  ('abc', 1, 'a'), ('abc', 2, 'b'), ('abc', 3, 'c'),
  ('xab', 1, 'x'), ('xab', 2, 'a'), ('xab', 3, 'b'),
  ('abac', 1, 'a'), ('abac', 2, 'b'), ('abac', 3, 'a'), ('abac', 4, 'c'),
  ('tie', 5, 'b'), ('tie', 5, 'a'), ('tie', 6, 'c'),
  ('one', 1, 'a')) v(name, t, v) ORDER BY t DESC;

SELECT name, got, expected, got IS NOT DISTINCT FROM expected AS ok FROM (VALUES
  ('head: a b c, e1=a -> b',
   (SELECT apivalue.sequence_next_node('forward', 'head', t::bigint, v, v = 'a', v = 'a') FROM nne WHERE name = 'abc'), 'b'),
  ('head: a b c, e1=a e2=b -> c',
   (SELECT apivalue.sequence_next_node('forward', 'head', t::bigint, v, v = 'a', v = 'a', v = 'b') FROM nne WHERE name = 'abc'), 'c'),
  ('head: first event must satisfy base_condition',
   (SELECT apivalue.sequence_next_node('forward', 'head', t::bigint, v, v = 'b', v = 'a') FROM nne WHERE name = 'abc'), NULL),
  ('head: chain broken -> NULL',
   (SELECT apivalue.sequence_next_node('forward', 'head', t::bigint, v, true, v = 'a', v = 'c') FROM nne WHERE name = 'abc'), NULL),
  ('head: chain reaches the last event -> NULL',
   (SELECT apivalue.sequence_next_node('forward', 'head', t::bigint, v, true, v = 'a', v = 'b', v = 'c') FROM nne WHERE name = 'abc'), NULL),
  ('tail: a b c, e1=c -> b',
   (SELECT apivalue.sequence_next_node('backward', 'tail', t::bigint, v, v = 'c', v = 'c') FROM nne WHERE name = 'abc'), 'b'),
  ('tail: a b c, e1=c e2=b -> a',
   (SELECT apivalue.sequence_next_node('backward', 'tail', t::bigint, v, v = 'c', v = 'c', v = 'b') FROM nne WHERE name = 'abc'), 'a'),
  ('first_match forward: x a b, e1=a -> b',
   (SELECT apivalue.sequence_next_node('forward', 'first_match', t::bigint, v, true, v = 'a') FROM nne WHERE name = 'xab'), 'b'),
  ('first_match backward: x a b, e1=a -> x',
   (SELECT apivalue.sequence_next_node('backward', 'first_match', t::bigint, v, true, v = 'a') FROM nne WHERE name = 'xab'), 'x'),
  ('last_match forward: a b a c, e1=a -> c',
   (SELECT apivalue.sequence_next_node('forward', 'last_match', t::bigint, v, true, v = 'a') FROM nne WHERE name = 'abac'), 'c'),
  ('first_match forward: a b a c, e1=a -> b',
   (SELECT apivalue.sequence_next_node('forward', 'first_match', t::bigint, v, true, v = 'a') FROM nne WHERE name = 'abac'), 'b'),
  ('last_match backward: a b a c, e1=a -> b',
   (SELECT apivalue.sequence_next_node('backward', 'last_match', t::bigint, v, true, v = 'a') FROM nne WHERE name = 'abac'), 'b'),
  ('first_match needs base_condition too',
   (SELECT apivalue.sequence_next_node('forward', 'first_match', t::bigint, v, t > 1, v = 'a') FROM nne WHERE name = 'abac'), 'c'),
  ('first_match: no e1 event -> NULL',
   (SELECT apivalue.sequence_next_node('forward', 'first_match', t::bigint, v, true, v = 'z') FROM nne WHERE name = 'abac'), NULL),
  ('backward at the first event -> NULL',
   (SELECT apivalue.sequence_next_node('backward', 'first_match', t::bigint, v, true, v = 'a') FROM nne WHERE name = 'abc'), NULL),
  ('fewer nodes than N + 1 -> NULL',
   (SELECT apivalue.sequence_next_node('forward', 'head', t::bigint, v, true, v = 'a') FROM nne WHERE name = 'one'), NULL),
  -- the next node need not satisfy any condition (every row is a node)
  ('next node matches no condition',
   (SELECT apivalue.sequence_next_node('forward', 'first_match', t::bigint, v, true, v = 'x') FROM nne WHERE name = 'xab'), 'a'),
  -- ties: lowest condition first (a@5 satisfies e1, b@5 none), whatever the input order
  ('tie: condition event first',
   (SELECT apivalue.sequence_next_node('forward', 'head', t::bigint, v, true, v = 'a') FROM nne WHERE name = 'tie'), 'b'),
  -- ties with the same conditions: by value (a before b)
  ('tie: same conditions, then by value',
   (SELECT apivalue.sequence_next_node('forward', 'head', t::bigint, v, true, v IN ('a', 'b')) FROM nne WHERE name = 'tie'), 'b'),
  -- the same rows with e1 = b: now b@5 sorts first and a@5 follows it
  ('tie: condition event first, the other way',
   (SELECT apivalue.sequence_next_node('forward', 'head', t::bigint, v, true, v = 'b') FROM nne WHERE name = 'tie'), 'a'),
  -- a@5 and b@5 match no condition: by value, so the node before c@6 is b
  ('tie: plain nodes by value',
   (SELECT apivalue.sequence_next_node('backward', 'tail', t::bigint, v, true, v = 'c') FROM nne WHERE name = 'tie'), 'b')
) c(name, got, expected)
ORDER BY name;

-- NULL time or value: the row is skipped; NULL conditions are false
SELECT apivalue.sequence_next_node('forward', 'head', ts, v, b, e1) AS skips_nulls
FROM (VALUES (timestamptz '2024-01-01 00:00:01', 'a', true, true),
             (NULL, 'n', true, true),
             (timestamptz '2024-01-01 00:00:02', NULL, true, true),
             (timestamptz '2024-01-01 00:00:03', 'c', NULL, NULL)) x(ts, v, b, e1);
-- timestamp overload
SELECT apivalue.sequence_next_node('forward', 'head', ts::timestamp, v, true, v = 'a') AS ts_overload
FROM (VALUES (timestamptz '2024-01-01 00:00:01', 'a'), (timestamptz '2024-01-01 00:00:02', 'b')) x(ts, v);

-- Randomized differential test: all six direction/base combinations, 1-3
-- event conditions, groups of 0-150 rows (head/tail states prune themselves
-- past 64 rows), ties, shuffled input.  The reference orders nodes by
-- (time, lowest condition, bits, value in byte order, base flag) and walks
-- the chain as ClickHouse's getNextNodeIndex does.
CREATE FUNCTION nnref(dir text, base text, bits int[], bf boolean[], vals text[], nconds int)
RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE n int := coalesce(array_length(bits, 1), 0); b int; i int;
BEGIN
  IF n <= nconds THEN RETURN NULL; END IF;
  IF base = 'head' THEN b := CASE WHEN bf[1] THEN 1 END;
  ELSIF base = 'tail' THEN b := CASE WHEN bf[n] THEN n END;
  ELSIF base = 'first_match' THEN
    SELECT min(k) INTO b FROM generate_series(1, n) k WHERE bits[k] & 1 = 1 AND bf[k];
  ELSE
    SELECT max(k) INTO b FROM generate_series(1, n) k WHERE bits[k] & 1 = 1 AND bf[k];
  END IF;
  IF b IS NULL THEN RETURN NULL; END IF;
  FOR i IN 0 .. nconds - 1 LOOP
    IF dir = 'forward' THEN
      IF b + i > n OR (bits[b + i] >> i) & 1 = 0 THEN RETURN NULL; END IF;
    ELSE
      IF b - i <= 1 OR (bits[b - i] >> i) & 1 = 0 THEN RETURN NULL; END IF;
    END IF;
  END LOOP;
  RETURN vals[CASE WHEN dir = 'forward' THEN b + nconds ELSE b - nconds END];
END $$;

SELECT setseed(0.77);
CREATE TABLE nnr AS
SELECT g, (random() * 40)::int AS t, (ARRAY['a','b','c','d','ab','é'])[1 + floor(random() * 6)::int] AS v,
       random() < 0.7 AS bf
FROM generate_series(1, 200) g, LATERAL generate_series(1, (g * 37) % 151) i
ORDER BY random();

CREATE TABLE nnr_cases (dir text, base text, nconds int);
INSERT INTO nnr_cases SELECT d, b, k
FROM (VALUES ('forward', 'head'), ('forward', 'first_match'), ('forward', 'last_match'),
             ('backward', 'tail'), ('backward', 'first_match'), ('backward', 'last_match')) x(d, b),
     generate_series(1, 3) k;

SELECT sum(n) AS rows, count(*) AS groups, max(n) AS max_group
FROM (SELECT g, count(*) AS n FROM nnr GROUP BY g) c;

-- conditions: e1 = v in (a, ab), e2 = v in (b, ab), e3 = v = c
SELECT d.* FROM avtest.diff(
  $$SELECT format('%s %s %s / %s', dir, base, nconds, g) AS k,
           CASE nconds
             WHEN 1 THEN apivalue.sequence_next_node(dir, base, t::bigint, v, bf, v IN ('a', 'ab'))
             WHEN 2 THEN apivalue.sequence_next_node(dir, base, t::bigint, v, bf, v IN ('a', 'ab'), v IN ('b', 'ab'))
             ELSE apivalue.sequence_next_node(dir, base, t::bigint, v, bf, v IN ('a', 'ab'), v IN ('b', 'ab'), v = 'c')
           END AS v
    FROM nnr, nnr_cases GROUP BY dir, base, nconds, g$$,
  $$SELECT format('%s %s %s / %s', dir, base, nconds, g) AS k,
           nnref(dir, base, array_agg(bits ORDER BY t, lowest, bits, v COLLATE "C", bf),
                 array_agg(bf ORDER BY t, lowest, bits, v COLLATE "C", bf),
                 array_agg(v ORDER BY t, lowest, bits, v COLLATE "C", bf), nconds) AS v
    FROM (SELECT g, t, v, bf,
                 (v IN ('a', 'ab'))::int + ((v IN ('b', 'ab'))::int << 1) + ((v = 'c')::int << 2) AS bits,
                 CASE WHEN v IN ('a', 'ab') THEN 1 WHEN v IN ('b', 'ab') THEN 2 WHEN v = 'c' THEN 3 ELSE 33 END AS lowest
          FROM nnr) s, nnr_cases
    GROUP BY dir, base, nconds, g$$) d;

-- answers are not all NULL
SELECT count(*) FILTER (WHERE v IS NOT NULL) AS non_null_answers
FROM (SELECT apivalue.sequence_next_node('forward', 'first_match', t::bigint, v, bf, v IN ('a', 'ab')) AS v
      FROM nnr GROUP BY g) x;

DROP TABLE nne, nnr, nnr_cases;
DROP FUNCTION nnref;
