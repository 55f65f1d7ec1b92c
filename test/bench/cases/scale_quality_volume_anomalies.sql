-- title: hourly volume anomalies (volume_anomalies) vs hand-written SQL
-- apivalue:
SELECT * FROM apivalue.volume_anomalies('sample.events', 'ts', '1 hour', 24, 3.5);
-- hand:
SELECT h, n FROM (SELECT h, n, avg(n) OVER w AS m, stddev(n) OVER w AS s FROM (SELECT date_bin('1 hour', ts, timestamptz '2000-01-01') AS h, count(*) AS n FROM sample.events GROUP BY 1) b WINDOW w AS (ORDER BY h ROWS BETWEEN 24 PRECEDING AND 1 PRECEDING)) x WHERE abs(n - m) > 3.5 * s;
-- floor:
SELECT date_bin('1 hour', ts, timestamptz '2000-01-01'), count(*) FROM sample.events GROUP BY 1;
