-- sequence_match / sequence_count: every rule of clickhouse-semantics.md as
-- a named, hand-checked case.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

-- one case = a named list of (second, event) rows; conditions c1..c3 are
-- e = 'A', 'B', 'C'; 'X' matches none.  Rows are inserted in reverse order
-- so that every case also exercises unsorted input.
CREATE TABLE seqe (name text, t numeric, e text);
CREATE FUNCTION seqe_add(n text, VARIADIC ev text[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO seqe SELECT n, split_part(x, '@', 2)::numeric, split_part(x, '@', 1)
  FROM unnest(ev) WITH ORDINALITY u(x, o) ORDER BY o DESC $$;
CREATE FUNCTION seqe_m(n text, p text) RETURNS boolean LANGUAGE sql AS $$
  SELECT apivalue.sequence_match(p, to_timestamp(t), e = 'A', e = 'B', e = 'C') FROM seqe WHERE name = n $$;
CREATE FUNCTION seqe_c(n text, p text) RETURNS bigint LANGUAGE sql AS $$
  SELECT apivalue.sequence_count(p, to_timestamp(t), e = 'A', e = 'B', e = 'C') FROM seqe WHERE name = n $$;

SELECT seqe_add('AXB', 'A@1', 'X@2', 'B@3'), seqe_add('ACB', 'A@1', 'C@2', 'B@3'),
       seqe_add('ABAB', 'A@1', 'B@2', 'A@3', 'B@4'), seqe_add('AABB', 'A@1', 'A@2', 'B@3', 'B@4'),
       seqe_add('AAA', 'A@1', 'A@2', 'A@3'), seqe_add('A1B2', 'A@1', 'B@2'),
       seqe_add('frac', 'A@1.9', 'B@2.1'), seqe_add('tie', 'B@5', 'A@5'),
       seqe_add('skip', 'A@0', 'B@5', 'C@8', 'B@20'), seqe_add('late', 'B@1', 'A@2'),
       seqe_add('none', 'X@1', 'X@2'), seqe_add('A', 'A@1'), seqe_add('AX', 'A@1', 'C@100');

SELECT name, got, expected, got = expected AS ok FROM (VALUES
  -- rows matching no condition are dropped: X does not count as "." ...
  ('dropped row is not an event',      seqe_m('AXB', '(?1).(?2)')::text, 'false'),
  ('dropped row: (?1)(?2) adjacent',   seqe_m('AXB', '(?1)(?2)')::text,  'true'),
  -- ... but an event matching another condition does
  ('kept row is an event',             seqe_m('ACB', '(?1).(?2)')::text, 'true'),
  ('kept row separates (?1)(?2)',      seqe_m('ACB', '(?1)(?2)')::text,  'false'),
  ('time order, not input order',      seqe_m('late', '(?2)(?1)')::text, 'true'),
  ('time order: reverse fails',        seqe_m('late', '(?1)(?2)')::text, 'false'),
  ('count non-overlapping A B A B',    seqe_c('ABAB', '(?1)(?2)')::text, '2'),
  ('count A A B B with .*',            seqe_c('AABB', '(?1).*(?2)')::text, '1'),
  ('count (?1) over A A A',            seqe_c('AAA', '(?1)')::text, '3'),
  ('count (?1)(?1) over A A A',        seqe_c('AAA', '(?1)(?1)')::text, '1'),
  ('t==1 whole seconds',               seqe_m('A1B2', '(?1)(?t==1)(?2)')::text, 'true'),
  ('t>=2 fails',                       seqe_m('A1B2', '(?1)(?t>=2)(?2)')::text, 'false'),
  ('t<1 fails',                        seqe_m('A1B2', '(?1)(?t<1)(?2)')::text, 'false'),
  ('t<=1 holds',                       seqe_m('A1B2', '(?1)(?t<=1)(?2)')::text, 'true'),
  ('t>0 holds',                        seqe_m('A1B2', '(?1)(?t>0)(?2)')::text, 'true'),
  -- 1.9 s and 2.1 s are seconds 1 and 2: one whole second apart
  ('fractions truncate: t==1',         seqe_m('frac', '(?1)(?t==1)(?2)')::text, 'true'),
  ('fractions truncate: t<1 fails',    seqe_m('frac', '(?1)(?t<1)(?2)')::text, 'false'),
  -- ties: lowest condition first, so A@5 comes before B@5 whatever the input
  ('tie: A before B',                  seqe_m('tie', '(?1)(?2)')::text, 'true'),
  ('tie: not B before A',              seqe_m('tie', '(?2)(?1)')::text, 'false'),
  ('tie: t==0',                        seqe_m('tie', '(?1)(?t==0)(?2)')::text, 'true'),
  -- a time condition lets any events lie between (ClickHouse): B@5, C@8 are skipped
  ('time condition skips events',      seqe_m('skip', '(?1)(?t>10)(?2)')::text, 'true'),
  ('time condition bound',             seqe_m('skip', '(?1)(?t>20)(?2)')::text, 'false'),
  ('t<=6 reaches B@5 past nothing',    seqe_m('skip', '(?1)(?t<=6)(?2)')::text, 'true'),
  ('t<=3 too short',                   seqe_m('skip', '(?1)(?t<=3)(?2)')::text, 'false'),
  ('t==8 picks C@8',                   seqe_m('skip', '(?1)(?t==8)(?3)')::text, 'true'),
  ('count with time',                  seqe_c('skip', '(?1)(?t>=5)(?2)')::text, '1'),
  ('pattern names a condition that never held', seqe_m('AXB', '(?3)')::text, 'false'),
  ('no kept events',                   seqe_m('none', '(?1)')::text, 'false'),
  ('no kept events, count',            seqe_c('none', '.*')::text, '0'),
  ('empty pattern matches',            seqe_m('none', '')::text, 'true'),
  ('.* matches',                       seqe_m('A', '.*')::text, 'true'),
  ('empty pattern counts every event', seqe_c('AAA', '')::text, '3'),
  ('. needs an event',                 seqe_m('A', '(?1).')::text, 'false'),
  ('trailing (?t<=5) with no next event', seqe_m('A', '(?1)(?t<=5)')::text, 'true'),
  ('trailing (?t<=5), next event too late', seqe_m('AX', '(?1)(?t<=5)')::text, 'false'),
  ('trailing (?t>5), next event late', seqe_m('AX', '(?1)(?t>5)')::text, 'true')
) AS c(name, got, expected)

ORDER BY name;

-- one row satisfying several conditions counts for each of them
SELECT apivalue.sequence_match('(?1)(?2)', to_timestamp(t), e = 'A', e IN ('A', 'B')) AS one_row_two_conditions_is_one_event,
       apivalue.sequence_match('(?1)', to_timestamp(t), e = 'A', e IN ('A', 'B')) AS first_condition,
       apivalue.sequence_match('(?2)', to_timestamp(t), e = 'A', e IN ('A', 'B')) AS second_condition
FROM seqe WHERE name = 'A';

-- NULL times are skipped, NULL conditions are false
SELECT apivalue.sequence_match('(?1)(?2)', ts, c1, c2) AS null_row_skipped,
       apivalue.sequence_count('(?1)', ts, c1, c2) AS count_a
FROM (VALUES (timestamptz '2024-01-01 00:00:01', true, false),
             (NULL, false, true),
             (timestamptz '2024-01-01 00:00:02', NULL, NULL),
             (timestamptz '2024-01-01 00:00:03', false, true)) v(ts, c1, c2);

-- timestamp (without time zone) and bigint time; bigint time conditions
-- compare in the caller's units (here milliseconds)
SELECT apivalue.sequence_match('(?1)(?t<=1)(?2)', ts::timestamp, c1, c2) AS ts_within_1s,
       apivalue.sequence_match('(?1)(?t<=1000)(?2)', ms, c1, c2) AS ms_within_1000,
       apivalue.sequence_match('(?1)(?t<=999)(?2)', ms, c1, c2) AS ms_within_999
FROM (VALUES (timestamptz '2024-01-01 00:00:01', 1000::bigint, true, false),
             (timestamptz '2024-01-01 00:00:02', 2000::bigint, false, true)) v(ts, ms, c1, c2);

-- no rows at all: false and 0
SELECT apivalue.sequence_match('(?1)', now(), true) AS match_no_rows,
       apivalue.sequence_count('(?1)', now(), true) AS count_no_rows
WHERE false;

-- the pattern may come from a column, and a different one per group
SELECT g, apivalue.sequence_count(p, to_timestamp(t), e = 'A', e = 'B', e = 'C') AS n
FROM seqe, (VALUES ('x', '(?1)'), ('y', '(?2)')) v(g, p)
WHERE name = 'ABAB' GROUP BY g ORDER BY g;

-- 32 conditions (the maximum), the last one used
SELECT apivalue.sequence_match('(?1)(?32)', to_timestamp(t),
  e = 'A', false, false, false, false, false, false, false, false, false,
  false, false, false, false, false, false, false, false, false, false,
  false, false, false, false, false, false, false, false, false, false, false, e = 'B') AS thirty_two
FROM seqe WHERE name = 'A1B2';

-- as a window aggregate (running match over a growing frame)
SELECT t, apivalue.sequence_match('(?1)(?2)', to_timestamp(t), e = 'A', e = 'B') OVER (ORDER BY t) AS so_far
FROM seqe WHERE name = 'ABAB' ORDER BY t;

-- a group with many events and a star-heavy pattern stays fast (the
-- matcher is polynomial; a naive backtracker needs ~n^4 steps here)
SELECT apivalue.sequence_match('(?1).*(?1).*(?1).*(?1).*(?2)', to_timestamp(i), i % 3 <> 0, false) AS never,
       apivalue.sequence_count('(?1).*(?t>0)(?1).*(?1)', to_timestamp(i), i % 3 <> 0, false) AS cnt,
       apivalue.sequence_count('.*(?1)(?t>=1)(?1)', i, true) AS cnt2
FROM generate_series(1, 20000) i;

DROP TABLE seqe;
DROP FUNCTION seqe_add, seqe_m, seqe_c;
