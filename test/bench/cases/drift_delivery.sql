-- title: delivery_by_segment by SDK vs plain SQL (per-device min/max/count DISTINCT, pooled z)
-- The hand-written SQL computes the per-device expected and received counts
-- with count(DISTINCT) and the same device-clustered statistics.
-- apivalue:
SELECT * FROM apivalue.delivery_by_segment('sample.events', 'device_id', 'seq', 'sdk_version');
-- hand:
WITH d AS (
  SELECT sdk_version AS seg, device_id, max(seq) - min(seq) + 1 AS e, count(DISTINCT seq) AS r
  FROM sample.events GROUP BY 1, 2
), g AS (
  SELECT seg, count(*) AS m, sum(r) AS r, sum(e) AS e, sum(e - r)::float8 / sum(e) AS p
  FROM d GROUP BY seg
), x AS (
  SELECT g.*, (SELECT sum(d.e - d.r)::float8 / sum(d.e) FROM d WHERE d.seg <> g.seg) AS p_r,
         (SELECT count(*) FROM d WHERE d.seg <> g.seg) AS m_r
  FROM g
)
SELECT x.seg, x.m, x.r, x.e, x.p,
       m::float8 / nullif(m - 1, 0) * (SELECT sum(((d.e - d.r) - x.p * d.e) ^ 2) FROM d WHERE d.seg = x.seg) / (x.e::float8 ^ 2)
       + m_r::float8 / nullif(m_r - 1, 0) * (SELECT sum(((d.e - d.r) - x.p_r * d.e) ^ 2) FROM d WHERE d.seg <> x.seg)
         / ((SELECT sum(d.e) FROM d WHERE d.seg <> x.seg)::float8 ^ 2) AS var
FROM x;
-- floor:
SELECT sdk_version, device_id, min(seq), max(seq) FROM sample.events GROUP BY 1, 2;
