-- Randomized differential test of sequence_match and sequence_count against
-- two independent references on generated data with ties, events matching
-- several conditions, rows matching none, fractional seconds and shuffled
-- input:
--  * match without time conditions: a PostgreSQL regular expression over
--    one letter per kept event (the letter encodes the event's condition set);
--  * count, and match with time conditions: a plain PL/pgSQL transcription of
--    ClickHouse's backtracking matcher (naive, exponential in general, fine
--    for these small groups).
-- Events are ordered for the references by (time, lowest condition index,
-- condition bits), apivalue's documented tie rule.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\i test/data/diff.sql

CREATE SCHEMA seqref;

-- pattern -> actions (type, arg); type 0 (?N) [arg N-1], 1 '.', 2 '.*',
-- 3 <=, 4 <, 5 >=, 6 >, 7 ==; action 1 is the implicit leading '.*'
CREATE FUNCTION seqref.actions(p text, OUT typ int[], OUT arg bigint[])
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE r text[];
BEGIN
  typ := ARRAY[2]; arg := ARRAY[0::bigint];
  FOR r IN SELECT regexp_matches(p, '\(\?t(<=|<|>=|>|==)(\d+)\)|\(\?(\d+)\)|(\.\*)|(\.)', 'g') LOOP
    IF r[1] IS NOT NULL THEN
      typ := typ || (ARRAY[3,4,5,6,7])[array_position(ARRAY['<=','<','>=','>','=='], r[1])];
      arg := arg || r[2]::bigint;
    ELSIF r[3] IS NOT NULL THEN typ := typ || 0; arg := arg || (r[3]::bigint - 1);
    ELSIF r[4] IS NOT NULL THEN typ := typ || 2; arg := arg || 0::bigint;
    ELSE typ := typ || 1; arg := arg || 0::bigint;
    END IF;
  END LOOP;
END $$;

-- ClickHouse's backtrackingMatch from event "start" (1-based); returns
-- whether it matched and where the events iterator ended.
CREATE FUNCTION seqref.bt(typ int[], arg bigint[], sec bigint[], bits int[], start int,
                          OUT ok boolean, OUT pos int)
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  n int := coalesce(array_length(sec, 1), 0);
  m int := array_length(typ, 1);
  a int := 1; e int := start; base int := start;
  sa int[] := '{}'; se int[] := '{}'; sb int[] := '{}'; sp int := 0;
  t int; x bigint; back boolean; found boolean; c boolean;
BEGIN
  WHILE a <= m AND e <= n LOOP
    t := typ[a]; x := arg[a]; back := false;
    IF t = 0 THEN
      IF (bits[e] >> x::int) & 1 = 1 THEN base := e; a := a + 1; e := e + 1;
      ELSE back := true; END IF;
    ELSIF t = 1 THEN base := e; a := a + 1; e := e + 1;
    ELSIF t = 2 THEN
      sp := sp + 1; sa[sp] := a; se[sp] := e; sb[sp] := base; base := e; a := a + 1;
    ELSE
      c := CASE t WHEN 3 THEN sec[e] <= sec[base] + x WHEN 4 THEN sec[e] < sec[base] + x
                  WHEN 5 THEN sec[e] >= sec[base] + x WHEN 6 THEN sec[e] > sec[base] + x
                  ELSE sec[e] = sec[base] + x END;
      IF c THEN
        sp := sp + 1; sa[sp] := a; se[sp] := e; sb[sp] := base; base := e; a := a + 1;
      ELSIF t IN (3, 4) THEN back := true;
      ELSE
        e := e + 1;
        IF e > n THEN back := true; END IF;
      END IF;
    END IF;
    IF back THEN
      found := false;
      WHILE sp > 0 LOOP
        a := sa[sp]; e := se[sp] + 1; base := sb[sp]; sp := sp - 1;
        IF e <= n THEN found := true; EXIT; END IF;
      END LOOP;
      EXIT WHEN NOT found;
    END IF;
  END LOOP;
  WHILE a <= m AND (typ[a] IN (2, 3, 4) OR (typ[a] = 5 AND arg[a] = 0)) LOOP
    a := a + 1;
  END LOOP;
  IF e = start THEN e := e + 1; END IF;
  ok := a > m; pos := e;
END $$;

-- conditions named by the pattern all occur (ClickHouse's shortcut)
CREATE FUNCTION seqref.conds_ok(typ int[], arg bigint[], bits int[]) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(bool_and(EXISTS (SELECT 1 FROM unnest(bits) b WHERE (b >> arg[i]::int) & 1 = 1)), true)
  FROM generate_subscripts(typ, 1) i WHERE typ[i] = 0 $$;

CREATE FUNCTION seqref.count(p text, sec bigint[], bits int[]) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE a record; r record; pos int := 1; cnt bigint := 0;
BEGIN
  a := seqref.actions(p);
  IF NOT seqref.conds_ok(a.typ, a.arg, bits) THEN RETURN 0; END IF;
  WHILE pos <= coalesce(array_length(sec, 1), 0) LOOP
    r := seqref.bt(a.typ, a.arg, sec, bits, pos);
    EXIT WHEN NOT r.ok;
    cnt := cnt + 1; pos := r.pos;
  END LOOP;
  RETURN cnt;
END $$;

-- match: with time conditions the backtracking matcher; without, a regex
CREATE FUNCTION seqref.match(p text, sec bigint[], bits int[]) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE a record; re text := ''; i int; k int; cls text;
BEGIN
  a := seqref.actions(p);
  IF NOT seqref.conds_ok(a.typ, a.arg, bits) THEN RETURN false; END IF;
  IF 3 <= ANY (a.typ) THEN
    RETURN (seqref.bt(a.typ, a.arg, sec, bits, 1)).ok;
  END IF;
  FOR i IN 2 .. array_length(a.typ, 1) LOOP
    IF a.typ[i] = 0 THEN
      cls := '';
      FOR k IN 1 .. 15 LOOP
        IF (k >> a.arg[i]::int) & 1 = 1 THEN cls := cls || chr(64 + k); END IF;
      END LOOP;
      re := re || '[' || cls || ']';
    ELSIF a.typ[i] = 1 THEN re := re || '.';
    ELSE re := re || '.*';
    END IF;
  END LOOP;
  RETURN coalesce(string_agg(chr(64 + b), '' ORDER BY o), '') ~ re
    FROM unnest(bits) WITH ORDINALITY AS u(b, o);
END $$;

-- 250 users, 0-14 rows each, in shuffled order; 4 conditions with overlaps
-- (c3 holds for 'a' and 'c'), 'x' rows match none; seconds 0-25 with
-- half-second fractions so ties and sub-second gaps are frequent.
SELECT setseed(0.4242);
CREATE TABLE seqr_events AS
SELECT u AS user_id,
       s * 1000000 + (CASE WHEN random() < 0.3 THEN 500000 ELSE 0 END)::bigint AS t_us,
       (ARRAY['a','b','c','d','x'])[1 + floor(random() * 5)::int] AS e
FROM generate_series(1, 250) u,
     LATERAL (SELECT floor(random() * 26)::bigint AS s
              FROM generate_series(1, floor(random() * 15)::int + (u * 0))) g
ORDER BY random();
ALTER TABLE seqr_events ADD COLUMN ts timestamptz;
UPDATE seqr_events SET ts = 'epoch'::timestamptz + t_us * interval '1 microsecond';
-- a few NULL times and NULL conditions (skipped / false)
INSERT INTO seqr_events VALUES (1, NULL, 'a', NULL), (2, 3000000, NULL, 'epoch'::timestamptz + interval '3 s');

SELECT count(*) AS rows, count(DISTINCT user_id) AS users,
       count(*) FILTER (WHERE (user_id, t_us) IN
         (SELECT user_id, t_us FROM seqr_events GROUP BY 1, 2 HAVING count(*) > 1)) AS tied_rows
FROM seqr_events;

-- each user's kept events for the references, in apivalue's order
CREATE TABLE seqr_groups AS
SELECT user_id,
       coalesce(array_agg(t_us / 1000000 ORDER BY t_us, lowest, bits) FILTER (WHERE bits > 0 AND t_us IS NOT NULL), '{}') AS sec,
       coalesce(array_agg(bits ORDER BY t_us, lowest, bits) FILTER (WHERE bits > 0 AND t_us IS NOT NULL), '{}') AS bits,
       coalesce(array_agg(t_us ORDER BY t_us, lowest, bits) FILTER (WHERE bits > 0 AND t_us IS NOT NULL), '{}') AS us
FROM (SELECT user_id, t_us,
             (e = 'a')::int + ((e = 'b')::int << 1) + ((e IN ('a', 'c'))::int << 2) + ((e = 'd')::int << 3) AS bits,
             CASE WHEN e = 'a' THEN 1 WHEN e = 'b' THEN 2 WHEN e = 'c' THEN 3 WHEN e = 'd' THEN 4 END AS lowest
      FROM seqr_events) s
GROUP BY user_id;

CREATE TABLE seqr_patterns (p text);
INSERT INTO seqr_patterns VALUES
 ('(?1)(?2)'), ('(?1).*(?2)'), ('(?1).(?2)'), ('(?2)(?1)'), ('(?1)(?1)'), ('.(?3).'),
 ('(?1).*(?2).*(?4)'), ('(?3)'), (''), ('.*'), ('(?1)(?3)'), ('(?2).*(?2)'), ('..'),
 ('(?1)(?t<=5)(?2)'), ('(?1)(?t<3)(?2)'), ('(?1)(?t>=4)(?2)'), ('(?1)(?t>2)(?4)'),
 ('(?1)(?t==2)(?2)'), ('(?1).*(?t>3)(?2)'), ('(?t<5)(?1)'), ('(?1)(?t<=5)'),
 ('(?1)(?t>=0)'), ('(?1).(?t>1)(?2).*(?3)'), ('(?2)(?t<=0)(?2)'), ('(?1)(?t==0)(?3)'),
 ('.(?t>=2).'), ('(?1).*(?t<=1)(?4)'), ('(?3)(?t>5)'), ('(?t<0)'), ('(?2)(?t>=3).*(?1)(?t<2)(?2)');

-- every pattern over every user, through the timestamptz overload (time
-- conditions in whole seconds) and the bigint overload with the time in
-- microseconds (time conditions then compare raw units: the pattern's S is
-- scaled to S * 1000000 + 250000, and the reference sees raw microseconds)
SELECT 'match' AS fn, d.* FROM avtest.diff(
  $$SELECT p || ' / ' || user_id AS k,
           apivalue.sequence_match(p, ts, e = 'a', e = 'b', e IN ('a', 'c'), e = 'd')::text AS v
    FROM seqr_events, seqr_patterns GROUP BY p, user_id$$,
  $$SELECT p || ' / ' || user_id AS k, seqref.match(p, sec, bits)::text AS v FROM seqr_groups, seqr_patterns$$) d
UNION ALL
SELECT 'count', d.* FROM avtest.diff(
  $$SELECT p || ' / ' || user_id AS k,
           apivalue.sequence_count(p, ts, e = 'a', e = 'b', e IN ('a', 'c'), e = 'd')::text AS v
    FROM seqr_events, seqr_patterns GROUP BY p, user_id$$,
  $$SELECT p || ' / ' || user_id AS k, seqref.count(p, sec, bits)::text AS v FROM seqr_groups, seqr_patterns$$) d
UNION ALL
SELECT 'match bigint', d.* FROM avtest.diff(
  $$SELECT p || ' / ' || user_id AS k,
           apivalue.sequence_match(regexp_replace(p, '\(\?t(<=|<|>=|>|==)(\d+)\)', '(?t\1\2250000)', 'g'),
                                   t_us, e = 'a', e = 'b', e IN ('a', 'c'), e = 'd')::text AS v
    FROM seqr_events, seqr_patterns GROUP BY p, user_id$$,
  $$SELECT p || ' / ' || user_id AS k,
           seqref.match(regexp_replace(p, '\(\?t(<=|<|>=|>|==)(\d+)\)', '(?t\1\2250000)', 'g'), us, bits)::text AS v
    FROM seqr_groups, seqr_patterns$$) d
UNION ALL
SELECT 'count bigint', d.* FROM avtest.diff(
  $$SELECT p || ' / ' || user_id AS k,
           apivalue.sequence_count(regexp_replace(p, '\(\?t(<=|<|>=|>|==)(\d+)\)', '(?t\1\2250000)', 'g'),
                                   t_us, e = 'a', e = 'b', e IN ('a', 'c'), e = 'd')::text AS v
    FROM seqr_events, seqr_patterns GROUP BY p, user_id$$,
  $$SELECT p || ' / ' || user_id AS k,
           seqref.count(regexp_replace(p, '\(\?t(<=|<|>=|>|==)(\d+)\)', '(?t\1\2250000)', 'g'), us, bits)::text AS v
    FROM seqr_groups, seqr_patterns$$) d;

-- the answers are not trivial: how many (pattern, user) pairs match, and
-- the total count
SELECT count(*) FILTER (WHERE seqref.match(p, sec, bits)) AS matching_pairs,
       sum(seqref.count(p, sec, bits)) AS total_count
FROM seqr_groups, seqr_patterns;
-- patterns for which some users match and some do not
SELECT count(*) AS patterns_with_both_answers
FROM (SELECT p FROM seqr_groups, seqr_patterns GROUP BY p
      HAVING bool_or(seqref.match(p, sec, bits)) AND NOT bool_and(seqref.match(p, sec, bits))) x;

DROP TABLE seqr_events, seqr_groups, seqr_patterns;
DROP SCHEMA seqref CASCADE;
