-- apivalue install script: calendar periods through ICU (src/calendar.c).

CREATE FUNCTION apivalue.period_start(ts timestamptz, period text, time_zone text,
                                      locale text DEFAULT NULL)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'apivalue_period_start'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.period_start(timestamptz, text, text, text) IS
  'first instant of the hour, day, week, month, quarter or year holding ts, cut in time_zone; weeks start on the locale''s first day (ICU), ISO Monday when locale is NULL';

CREATE FUNCTION apivalue.period_index(ts timestamptz, period text, time_zone text,
                                      locale text DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'apivalue_period_index'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.period_index(timestamptz, text, text, text) IS
  'number of the period holding ts; consecutive periods have consecutive numbers, so a difference counts periods';

CREATE FUNCTION apivalue.period_index_start(index bigint, period text, time_zone text,
                                            locale text DEFAULT NULL)
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'apivalue_period_index_start'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.period_index_start(bigint, text, text, text) IS
  'first instant of the period numbered index (inverse of period_index)';

CREATE FUNCTION apivalue.week_first_day(locale text)
RETURNS int
AS 'MODULE_PATHNAME', 'apivalue_period_first_day'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION apivalue.week_first_day(text) IS
  'ISO number (1 = Monday ... 7 = Sunday) of the day weeks start on in the locale, per ICU; 1 for NULL';
