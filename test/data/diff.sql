-- Differential-test helper, loaded by tests with \i test/data/diff.sql
--
-- avtest.diff(actual, reference) runs two queries that each return columns
-- (k text, v text) — a group key and its answer rendered as text — and
-- compares them with a full join on k.  It returns how many keys were
-- compared, how many differ (missing on either side counts), and the first
-- differing key with both answers, so a failing test shows what went wrong.
SET client_min_messages = warning;
CREATE SCHEMA IF NOT EXISTS avtest;
RESET client_min_messages;

CREATE OR REPLACE FUNCTION avtest.diff(actual text, reference text,
                                       OUT compared bigint, OUT mismatches bigint,
                                       OUT first_mismatch text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($q$
    WITH a AS (%s), r AS (%s),
    j AS (SELECT coalesce(a.k, r.k) AS k, a.v AS av, r.v AS rv
          FROM a FULL JOIN r ON a.k = r.k)
    SELECT count(*),
           count(*) FILTER (WHERE av IS DISTINCT FROM rv),
           (SELECT format('key %%s: got %%s, expected %%s', k,
                          coalesce(av, '<missing>'), coalesce(rv, '<missing>'))
              FROM j WHERE av IS DISTINCT FROM rv ORDER BY k LIMIT 1)
    FROM j $q$, actual, reference)
  INTO compared, mismatches, first_mismatch;
END
$$;
