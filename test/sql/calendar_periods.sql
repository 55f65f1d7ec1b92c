-- period_start / period_index through ICU: week starts by locale, DST,
-- month ends, leap days, errors, and a randomized comparison with
-- PostgreSQL's own date_trunc(field, ts, zone).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;
\set SHOW_CONTEXT never
SET timezone = 'UTC';

-- Week starts as ICU 72 reports them (1 = Monday ... 7 = Sunday).
SELECT l AS locale, apivalue.week_first_day(l) AS first_day
FROM unnest(ARRAY['en_US', 'de_DE', 'en_GB', 'ar_EG', 'fa_IR', 'de-DE', 'en', NULL]) AS l;

-- Wednesday 2024-06-05 12:00 UTC: the week starts Sunday 2 June (en_US),
-- Monday 3 June (de_DE, en_GB, ISO) or Saturday 1 June (ar_EG, fa_IR).
SELECT coalesce(l, 'ISO') AS locale,
       apivalue.period_start('2024-06-05 12:00+00', 'week', 'UTC', l) AS week_start
FROM unnest(ARRAY['en_US', 'de_DE', 'en_GB', 'ar_EG', 'fa_IR', NULL]) AS l;
-- the calendar stays Gregorian whatever the locale's default calendar (fa_IR: Persian)
SELECT apivalue.period_start('2024-06-05 12:00+00', p, 'Asia/Tehran', 'fa_IR') AS start, p
FROM unnest(ARRAY['month', 'quarter', 'year']) AS p;

-- Europe/Berlin: 2024-03-31 has 23 hours, 2024-10-27 has 25.
SELECT d, apivalue.period_start(d, 'day', 'Europe/Berlin') AS day_start,
       apivalue.period_index_start(apivalue.period_index(d, 'day', 'Europe/Berlin') + 1, 'day', 'Europe/Berlin')
         - apivalue.period_start(d, 'day', 'Europe/Berlin') AS day_length
FROM unnest(ARRAY['2024-03-31 12:00+00', '2024-10-27 12:00+00', '2024-07-01 12:00+00']::timestamptz[]) AS d;
-- week holding the spring change: Monday 25 March 00:00 CET to Monday 1 April 00:00 CEST
SELECT apivalue.period_start('2024-03-31 12:00+00', 'week', 'Europe/Berlin') AS week_start,
       apivalue.period_index_start(apivalue.period_index('2024-03-31 12:00+00', 'week', 'Europe/Berlin') + 1,
                                   'week', 'Europe/Berlin') AS next_week;
-- 2024-03-31 22:30 UTC is already Monday 1 April 00:30 CEST
SELECT apivalue.period_start('2024-03-31 22:30+00', 'day', 'Europe/Berlin') AS day_start;

-- America/New_York: 2024-03-10 (23 h), 2024-11-03 (25 h); the repeated
-- hour 01:00-02:00 on 3 November is two different hours.
SELECT d, apivalue.period_start(d, 'day', 'America/New_York') AS day_start,
       apivalue.period_index_start(apivalue.period_index(d, 'day', 'America/New_York') + 1, 'day', 'America/New_York')
         - apivalue.period_start(d, 'day', 'America/New_York') AS day_length
FROM unnest(ARRAY['2024-03-10 12:00+00', '2024-11-03 12:00+00']::timestamptz[]) AS d;
SELECT ts, apivalue.period_start(ts, 'hour', 'America/New_York') AS hour_start,
       apivalue.period_index(ts, 'hour', 'America/New_York')
         - apivalue.period_index('2024-11-03 05:30+00', 'hour', 'America/New_York') AS hour_number
FROM unnest(ARRAY['2024-11-03 05:30+00', '2024-11-03 06:30+00', '2024-11-03 07:30+00']::timestamptz[]) AS ts;
-- DST changes at midnight.  Santiago 2024-09-08: 00:00 does not exist, the
-- day starts at 01:00 -03 (23 h).  Havana 2024-11-03: 00:00-01:00 happens
-- twice; the day starts at the first 00:00 (CDT, 04:00 UTC), not the second
-- as date_trunc picks (which would leave the first hour before its day).
SELECT z, d, apivalue.period_start(d, 'day', z) AS day_start,
       apivalue.period_index_start(apivalue.period_index(d, 'day', z) + 1, 'day', z)
         - apivalue.period_start(d, 'day', z) AS day_length,
       apivalue.period_start('2024-11-03 04:30+00', 'day', z) AS first_hour_day
FROM (VALUES ('America/Santiago', '2024-09-08 12:00+00'::timestamptz),
             ('America/Havana', '2024-11-03 12:00+00'),
             ('America/Havana', '2024-03-10 12:00+00')) v(z, d);
-- en_US weeks in New York around the spring change: Sunday 10 March 00:00 EST
SELECT apivalue.period_start('2024-03-16 23:00-04', 'week', 'America/New_York', 'en_US') AS week_start;

-- Month ends and leap days: 2024-01-31 23:30 UTC is 1 February in Berlin.
SELECT apivalue.period_start('2024-01-31 23:30+00', 'month', 'Europe/Berlin') AS month_berlin,
       apivalue.period_start('2024-01-31 23:30+00', 'month', 'UTC') AS month_utc;
SELECT p, apivalue.period_start('2024-02-29 18:00+00', p, 'America/New_York') AS start,
       apivalue.period_index_start(apivalue.period_index('2024-02-29 18:00+00', p, 'America/New_York') + 1,
                                   p, 'America/New_York') AS next_start
FROM unnest(ARRAY['day', 'week', 'month', 'quarter', 'year']) AS p;
SELECT apivalue.period_start('2023-03-01 00:00-05', 'day', 'America/New_York') AS after_feb_28,
       apivalue.period_index('2023-03-01 00:00-05', 'day', 'America/New_York')
         - apivalue.period_index('2023-02-28 23:59:59.999999-05', 'day', 'America/New_York') AS days_apart;
-- fixed offsets and half-hour zones
SELECT apivalue.period_start('2024-06-05 00:10+00', 'day', 'Asia/Kolkata') AS kolkata_day,
       apivalue.period_start('2024-06-05 00:10+00', 'hour', 'Asia/Kolkata') AS kolkata_hour,
       apivalue.period_start('2024-06-05 00:10+00', 'day', 'GMT+05:30') AS fixed_offset_day;

-- NULL in, NULL out (a NULL locale is ISO, not NULL)
SELECT apivalue.period_start(NULL, 'day', 'UTC') IS NULL AS null_ts,
       apivalue.period_start(now(), NULL, 'UTC') IS NULL AS null_period,
       apivalue.period_start(now(), 'day', NULL) IS NULL AS null_zone,
       apivalue.period_start('2024-06-05 12:00+00', 'week', 'UTC', NULL) AS null_locale;

-- Errors
SELECT apivalue.period_start(now(), 'fortnight', 'UTC');
SELECT apivalue.period_start(now(), 'Day', 'UTC');
SELECT apivalue.period_start(now(), 'day', 'Mars/Olympus_Mons');
SELECT apivalue.period_start(now(), 'day', '');
SELECT apivalue.period_start(now(), 'day', 'Europe/Berlinö');
SELECT apivalue.period_start(now(), 'week', 'UTC', 'xx_YY');
SELECT apivalue.period_start(now(), 'week', 'UTC', 'en_ZZ');
SELECT apivalue.period_start(now(), 'week', 'UTC', '');
SELECT apivalue.period_start('infinity', 'day', 'UTC');
SELECT apivalue.period_start('-infinity', 'week', 'UTC');
SELECT apivalue.period_index('infinity', 'day', 'UTC');
\set VERBOSITY terse
-- error codes
DO $$
DECLARE
  cases text[] := ARRAY[
    $q$SELECT apivalue.period_start(now(), 'fortnight', 'UTC')$q$,
    $q$SELECT apivalue.period_start(now(), 'day', 'Mars/Olympus_Mons')$q$,
    $q$SELECT apivalue.period_start(now(), 'week', 'UTC', 'xx_YY')$q$,
    $q$SELECT apivalue.period_start('infinity', 'day', 'UTC')$q$];
  c text;
BEGIN
  FOREACH c IN ARRAY cases LOOP
    BEGIN
      EXECUTE c;
      RAISE NOTICE 'no error: %', c;
    EXCEPTION WHEN OTHERS THEN
      RAISE NOTICE '%: %', SQLSTATE, c;
    END;
  END LOOP;
END $$;

-- Randomized comparison with date_trunc(field, ts, zone) (ISO weeks), and
-- Sunday weeks (en_US) with a shifted date_trunc; zones without DST changes
-- at midnight.  Also: period_index_start inverts period_index, and the
-- instant before a period start lies in the previous period.
SELECT setseed(0.4242);
CREATE TEMP TABLE cal_ts AS
SELECT '2000-01-01 00:00+00'::timestamptz + random() * interval '36 years' AS ts
FROM generate_series(1, 1500);
-- plus the instants around every DST change of the period (to the second)
INSERT INTO cal_ts
SELECT d + s * interval '1 second'
FROM generate_series('2015-03-01'::timestamptz, '2030-12-01', interval '1 day') AS d,
     unnest(ARRAY[-1, 0, 1]) AS s
WHERE extract(day FROM d) IN (1, 10, 27, 31) AND extract(month FROM d) IN (3, 4, 10, 11);
SELECT count(*) AS instants FROM cal_ts;

CREATE TEMP TABLE cal_zones AS
SELECT unnest(ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata',
                    'Australia/Sydney', 'Asia/Kathmandu']) AS z;
SELECT count(*) AS compared,
       count(*) FILTER (WHERE apivalue.period_start(ts, p, z)
                              IS DISTINCT FROM date_trunc(p, ts, z)) AS mismatches
FROM cal_ts, cal_zones, unnest(ARRAY['hour', 'day', 'week', 'month', 'quarter', 'year']) AS p;
SELECT count(*) AS compared,
       count(*) FILTER (WHERE apivalue.period_start(ts, 'week', z, 'en_US')
                              IS DISTINCT FROM
                              ((date_trunc('week', (ts AT TIME ZONE z) + interval '1 day')
                                - interval '1 day') AT TIME ZONE z)) AS sunday_mismatches
FROM cal_ts, cal_zones;
SELECT count(*) AS compared,
       count(*) FILTER (WHERE apivalue.period_index_start(apivalue.period_index(ts, p, z, l), p, z, l)
                              IS DISTINCT FROM apivalue.period_start(ts, p, z, l)) AS inverse_mismatches,
       count(*) FILTER (WHERE apivalue.period_index(apivalue.period_start(ts, p, z, l) - interval '1 microsecond', p, z, l)
                              IS DISTINCT FROM apivalue.period_index(ts, p, z, l) - 1) AS step_mismatches
FROM (SELECT ts FROM cal_ts LIMIT 400) t, cal_zones,
     unnest(ARRAY['hour', 'day', 'week', 'month', 'quarter', 'year']) AS p,
     unnest(ARRAY['en_US', 'ar_EG', NULL]) AS l;
DROP TABLE cal_ts, cal_zones;
