/*-------------------------------------------------------------------------
 *
 * calendar.c
 *	  Calendar periods cut in a time zone through ICU calendars.
 *
 * period_start(ts, period, time_zone [, locale]) returns the first instant
 * of the hour, day, week, month, quarter or year that holds ts, as the wall
 * clock of time_zone sees it.  Weeks start on the locale's first day of the
 * week (ICU week data: en_US Sunday, de_DE Monday, ar_EG Saturday); a NULL
 * locale means ISO weeks, starting Monday.  The calendar is always the
 * proleptic Gregorian one, whatever the locale's default calendar is, so a
 * month is a Gregorian month everywhere (as in PostgreSQL).
 *
 * Each call site caches one open UCalendar for its (period, zone, locale)
 * in fn_extra, plus the last period found: rows of the same period (the
 * common case for data stored in time order) cost one comparison.
 *
 * Time zone rules come from ICU's own time zone data, not PostgreSQL's; both
 * follow the IANA database, but their versions may differ.  That is one
 * reason these functions are STABLE rather than IMMUTABLE: an ICU upgrade
 * may move a period boundary.
 *
 * Day boundaries: a local midnight that does not exist (a DST jump at
 * midnight) starts the day at the first valid instant after it; a repeated
 * midnight starts the day at its first occurrence.
 *
 * src/calendar.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unicode/ucal.h>
#include <unicode/uloc.h>
#include <unicode/ustring.h>

#include "calendar.h"
#include "common/hashfn.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

PG_FUNCTION_INFO_V1(apivalue_period_start);
PG_FUNCTION_INFO_V1(apivalue_period_index);
PG_FUNCTION_INFO_V1(apivalue_period_index_start);
PG_FUNCTION_INFO_V1(apivalue_period_first_day);

#define MAX_ZONE_LEN	128
#define MAX_LOCALE_LEN	ULOC_FULLNAME_CAPACITY

/* microseconds from the Unix epoch to the PostgreSQL epoch */
#define UNIX_TO_PG_USECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)
#define MSECS_PER_HOUR	INT64CONST(3600000)

struct PeriodCalendar
{
	PeriodKind	kind;
	char		zone[MAX_ZONE_LEN + 1];
	bool		has_locale;
	char		locale[MAX_LOCALE_LEN + 1];
	UCalendar  *cal;
	int			week_residue;	/* Julian day number of week starts, mod 7 */
	uint32		hash;
	/* the arguments as given, for the per-row fast path */
	char		raw_period[16];
	char		raw_zone[MAX_ZONE_LEN + 1];
	bool		raw_has_locale;
	char		raw_locale[MAX_LOCALE_LEN + 1];
	/* last period found: [cache_start, cache_end) has index cache_index */
	bool		cache_valid;
	TimestampTz cache_start;
	TimestampTz cache_end;
	int64		cache_index;
	/*
	 * Periods found before, sorted by start, disjoint: rows seldom come in
	 * time order (a table is often written user by user), so the last period
	 * alone misses often; a binary search over the periods seen replaces the
	 * ICU calls for all but the first row of each period.
	 */
	struct PeriodSpan *spans;
	int			nspans;
	MemoryContextCallback cb;
};

typedef struct PeriodSpan
{
	TimestampTz start;
	TimestampTz end;
	int64		index;
} PeriodSpan;

/* at most this many periods are remembered (then the list starts over) */
#define MAX_SPANS	4096

static const struct
{
	const char *name;
	PeriodKind	kind;
}			period_names[] =
{
	{"hour", PERIOD_HOUR},
	{"day", PERIOD_DAY},
	{"week", PERIOD_WEEK},
	{"month", PERIOD_MONTH},
	{"quarter", PERIOD_QUARTER},
	{"year", PERIOD_YEAR},
};

static PeriodKind
parse_period(text *period)
{
	char	   *s = text_to_cstring(period);

	for (int i = 0; i < (int) lengthof(period_names); i++)
		if (strcmp(s, period_names[i].name) == 0)
			return period_names[i].kind;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("unknown period \"%s\"", s),
			 errhint("Valid periods are hour, day, week, month, quarter and year.")));
	pg_unreachable();
}

static void
close_calendar(void *arg)
{
	PeriodCalendar *pc = (PeriodCalendar *) arg;

	if (pc->cal)
		ucal_close(pc->cal);
	pc->cal = NULL;
}

/*
 * Is loc a locale ICU knows?  ICU opens any string as some locale, falling
 * back to the root locale, so we check the name ourselves: its base name
 * (keywords stripped) must be one of ICU's available locales, or a language
 * ICU has data for with a known ISO country.
 */
static bool
locale_is_known(const char *canonical)
{
	UErrorCode	status = U_ZERO_ERROR;
	char		base[MAX_LOCALE_LEN + 1];
	char		lang[ULOC_LANG_CAPACITY];
	char		country[ULOC_COUNTRY_CAPACITY];
	int32		n = uloc_countAvailable();
	bool		lang_known = false;

	uloc_getBaseName(canonical, base, sizeof(base), &status);
	if (U_FAILURE(status) || status == U_STRING_NOT_TERMINATED_WARNING || base[0] == '\0')
		return false;
	status = U_ZERO_ERROR;
	uloc_getLanguage(base, lang, sizeof(lang), &status);
	if (U_FAILURE(status) || status == U_STRING_NOT_TERMINATED_WARNING)
		return false;
	status = U_ZERO_ERROR;
	uloc_getCountry(base, country, sizeof(country), &status);
	if (U_FAILURE(status) || status == U_STRING_NOT_TERMINATED_WARNING)
		return false;

	for (int32 i = 0; i < n; i++)
	{
		const char *avail = uloc_getAvailable(i);

		if (strcmp(avail, base) == 0)
			return true;
		if (strcmp(avail, lang) == 0)
			lang_known = true;
	}
	if (!lang_known)
		return false;
	if (country[0] == '\0')
		return true;
	for (const char *const *c = uloc_getISOCountries(); *c; c++)
		if (strcmp(*c, country) == 0)
			return true;
	return false;
}

/*
 * Open the ICU calendar for zone and locale, checking both names.  ICU
 * silently falls back to "Etc/Unknown" (GMT) for a zone it does not know,
 * so we look the ID up first.
 */
static UCalendar *
open_calendar(const char *zone, const char *locale)
{
	UChar		uzone[MAX_ZONE_LEN + 1];
	UChar		canon[MAX_ZONE_LEN + 1];
	UBool		is_system = false;
	UErrorCode	status = U_ZERO_ERROR;
	int32		zlen = strlen(zone);
	UCalendar  *cal;

	for (int i = 0; i < zlen; i++)
		if ((unsigned char) zone[i] >= 0x80)
			zlen = -1;
	if (zlen <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", zone),
				 errhint("Use an IANA time zone name such as \"UTC\" or \"Europe/Berlin\".")));
	u_charsToUChars(zone, uzone, zlen);
	ucal_getCanonicalTimeZoneID(uzone, zlen, canon, lengthof(canon), &is_system, &status);
	if (U_FAILURE(status))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", zone),
				 errhint("Use an IANA time zone name such as \"UTC\" or \"Europe/Berlin\", or a fixed offset such as \"GMT+05:30\".")));

	if (locale && !locale_is_known(locale))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("locale \"%s\" not recognized", locale),
				 errhint("Use an ICU locale name such as \"en_US\" or \"de-DE\", or NULL for ISO weeks starting Monday.")));

	status = U_ZERO_ERROR;
	cal = ucal_open(uzone, zlen, locale ? locale : "", UCAL_GREGORIAN, &status);
	if (U_FAILURE(status))
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not open ICU calendar for time zone \"%s\": %s",
						zone, u_errorName(status))));
	/* Proleptic Gregorian, as PostgreSQL's dates are. */
	status = U_ZERO_ERROR;
	ucal_setGregorianChange(cal, -1.0e300, &status);
	ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME, UCAL_WALLTIME_FIRST);
	ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
	ucal_setAttribute(cal, UCAL_LENIENT, 1);
	if (locale == NULL)
		ucal_setAttribute(cal, UCAL_FIRST_DAY_OF_WEEK, UCAL_MONDAY);
	return cal;
}

/*
 * Canonical form of a locale name: "de-DE" and "de_DE" are the same locale.
 */
static void
canonical_locale(text *locale, char *out)
{
	char	   *s = text_to_cstring(locale);
	UErrorCode	status = U_ZERO_ERROR;
	int32		len;

	if (strlen(s) > MAX_LOCALE_LEN || s[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("locale \"%s\" not recognized", s)));
	len = uloc_canonicalize(s, out, MAX_LOCALE_LEN + 1, &status);
	if (U_FAILURE(status) || len > MAX_LOCALE_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("locale \"%s\" not recognized", s)));
	out[len] = '\0';
}

PeriodCalendar *
period_calendar_get(void **cache, MemoryContext mcxt,
					text *period, text *zone, text *locale)
{
	PeriodCalendar *pc = (PeriodCalendar *) *cache;
	PeriodKind	kind;
	char		zbuf[MAX_ZONE_LEN + 2];
	char		lbuf[MAX_LOCALE_LEN + 1];
	int			zlen = VARSIZE_ANY_EXHDR(zone);
	int			plen = VARSIZE_ANY_EXHDR(period);
	int			llen = locale ? VARSIZE_ANY_EXHDR(locale) : 0;

	/* Same arguments as last time: nothing to do. */
	if (pc && pc->cal &&
		plen < (int) sizeof(pc->raw_period) &&
		memcmp(pc->raw_period, VARDATA_ANY(period), plen) == 0 &&
		pc->raw_period[plen] == '\0' &&
		zlen <= MAX_ZONE_LEN &&
		memcmp(pc->raw_zone, VARDATA_ANY(zone), zlen) == 0 &&
		pc->raw_zone[zlen] == '\0' &&
		pc->raw_has_locale == (locale != NULL) &&
		(!locale || (llen <= MAX_LOCALE_LEN &&
					 memcmp(pc->raw_locale, VARDATA_ANY(locale), llen) == 0 &&
					 pc->raw_locale[llen] == '\0')))
		return pc;

	kind = parse_period(period);
	if (zlen > MAX_ZONE_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", text_to_cstring(zone))));
	memcpy(zbuf, VARDATA_ANY(zone), zlen);
	zbuf[zlen] = '\0';
	if (locale)
		canonical_locale(locale, lbuf);

	if (pc && pc->cal && strcmp(pc->zone, zbuf) == 0 &&
		pc->has_locale == (locale != NULL) &&
		(!locale || strcmp(pc->locale, lbuf) == 0))
	{
		if (pc->kind != kind)
		{
			pc->kind = kind;
			pc->cache_valid = false;
			pc->nspans = 0;
		}
	}
	else
	{
		UCalendar  *cal = open_calendar(zbuf, locale ? lbuf : NULL);
		int			first;

		if (pc == NULL)
		{
			pc = MemoryContextAllocZero(mcxt, sizeof(PeriodCalendar));
			pc->cb.func = close_calendar;
			pc->cb.arg = pc;
			MemoryContextRegisterResetCallback(mcxt, &pc->cb);
			*cache = pc;
		}
		else
			close_calendar(pc);
		pc->cal = cal;
		pc->kind = kind;
		strcpy(pc->zone, zbuf);
		pc->has_locale = (locale != NULL);
		strcpy(pc->locale, locale ? lbuf : "");
		pc->cache_valid = false;
		pc->nspans = 0;
		/* Julian day 0 is a Monday; ICU numbers days of week Sunday = 1. */
		first = ucal_getAttribute(cal, UCAL_FIRST_DAY_OF_WEEK);
		pc->week_residue = (first + 5) % 7;
	}
	memcpy(pc->raw_period, VARDATA_ANY(period), plen);
	pc->raw_period[plen] = '\0';
	memcpy(pc->raw_zone, VARDATA_ANY(zone), zlen);
	pc->raw_zone[zlen] = '\0';
	pc->raw_has_locale = (locale != NULL);
	if (locale)
	{
		memcpy(pc->raw_locale, VARDATA_ANY(locale), llen);
		pc->raw_locale[llen] = '\0';
	}
	pc->hash = hash_bytes((const unsigned char *) pc->zone, strlen(pc->zone)) ^
		(hash_bytes((const unsigned char *) pc->locale, strlen(pc->locale)) * 31) ^
		((uint32) pc->kind * 2654435761u) ^ (pc->has_locale ? 0x5bd1e995 : 0);
	return pc;
}

uint32
period_calendar_hash(PeriodCalendar *pc)
{
	return pc->hash;
}

static inline int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static void
icu_check(UErrorCode status, const char *what)
{
	if (U_FAILURE(status))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("could not compute %s with ICU: %s", what, u_errorName(status))));
}

static TimestampTz
ms_to_ts(UDate ms)
{
	TimestampTz result = (TimestampTz) ms * 1000 - UNIX_TO_PG_USECS;

	if (!IS_VALID_TIMESTAMP(result))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return result;
}

/* First instant of local Julian day jd. */
static UDate
jd_start(UCalendar *cal, int64 jd)
{
	UErrorCode	status = U_ZERO_ERROR;
	UDate		ms;

	if (jd < 0 || jd > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	ucal_clear(cal);
	ucal_set(cal, UCAL_JULIAN_DAY, (int32) jd);
	ms = ucal_getMillis(cal, &status);
	icu_check(status, "a day start");
	return ms;
}

/* First instant of month m (0-based, may overflow: the calendar is lenient) of year ey. */
static UDate
month_start(UCalendar *cal, int64 ey, int64 m)
{
	UErrorCode	status = U_ZERO_ERROR;
	UDate		ms;

	ey += floor_div(m, 12);
	m -= floor_div(m, 12) * 12;
	if (ey < -10000 || ey > 400000)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	ucal_clear(cal);
	ucal_set(cal, UCAL_EXTENDED_YEAR, (int32) ey);
	ucal_set(cal, UCAL_MONTH, (int32) m);
	ucal_set(cal, UCAL_DATE, 1);
	ms = ucal_getMillis(cal, &status);
	icu_check(status, "a month start");
	return ms;
}

/* Julian day of the first day of the week holding jd. */
static inline int64
week_start_jd(PeriodCalendar *pc, int64 jd)
{
	int64		back = (jd - pc->week_residue) % 7;

	if (back < 0)
		back += 7;
	return jd - back;
}

/*
 * Add the period just found ([cache_start, cache_end), cache_index) to the
 * sorted list of periods seen.  Periods of one calendar and kind never
 * overlap, so the list stays disjoint.
 */
static void
remember_span(PeriodCalendar *pc)
{
	int			pos;

	if (pc->spans == NULL)
		pc->spans = MemoryContextAlloc(GetMemoryChunkContext(pc),
									   MAX_SPANS * sizeof(PeriodSpan));
	if (pc->nspans == MAX_SPANS)
		pc->nspans = 0;
	for (pos = pc->nspans; pos > 0 && pc->spans[pos - 1].start > pc->cache_start; pos--)
		;
	if (pos > 0 && pc->spans[pos - 1].start == pc->cache_start)
		return;
	memmove(&pc->spans[pos + 1], &pc->spans[pos], (pc->nspans - pos) * sizeof(PeriodSpan));
	pc->spans[pos].start = pc->cache_start;
	pc->spans[pos].end = pc->cache_end;
	pc->spans[pos].index = pc->cache_index;
	pc->nspans++;
}

TimestampTz
period_calendar_locate(PeriodCalendar *pc, TimestampTz ts, int64 *index)
{
	UCalendar  *cal = pc->cal;
	UErrorCode	status = U_ZERO_ERROR;
	int64		unix_ms;
	UDate		start_ms,
				end_ms;
	int64		idx;

	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp must be finite"),
				 errdetail("Periods of infinite timestamps are not defined.")));

	if (pc->cache_valid && ts >= pc->cache_start && ts < pc->cache_end)
	{
		if (index)
			*index = pc->cache_index;
		return pc->cache_start;
	}
	if (pc->nspans > 0)
	{
		int			lo = 0,
					hi = pc->nspans - 1;

		/* the last span starting at or before ts */
		while (lo < hi)
		{
			int			mid = (lo + hi + 1) / 2;

			if (pc->spans[mid].start <= ts)
				lo = mid;
			else
				hi = mid - 1;
		}
		if (ts >= pc->spans[lo].start && ts < pc->spans[lo].end)
		{
			pc->cache_start = pc->spans[lo].start;
			pc->cache_end = pc->spans[lo].end;
			pc->cache_index = pc->spans[lo].index;
			pc->cache_valid = true;
			if (index)
				*index = pc->cache_index;
			return pc->cache_start;
		}
	}

	unix_ms = floor_div(ts + UNIX_TO_PG_USECS, 1000);
	ucal_setMillis(cal, (UDate) unix_ms, &status);
	icu_check(status, "a period");

	if (pc->kind == PERIOD_HOUR)
	{
		int32		min = ucal_get(cal, UCAL_MINUTE, &status);
		int32		sec = ucal_get(cal, UCAL_SECOND, &status);
		int32		msec = ucal_get(cal, UCAL_MILLISECOND, &status);

		icu_check(status, "an hour start");
		start_ms = (UDate) (unix_ms - ((int64) min * 60000 + sec * 1000 + msec));
		idx = floor_div((int64) start_ms, MSECS_PER_HOUR);
		/* An hour lasts an hour, but offsets are not always whole hours. */
		end_ms = start_ms;
	}
	else if (pc->kind == PERIOD_DAY || pc->kind == PERIOD_WEEK)
	{
		int64		jd = ucal_get(cal, UCAL_JULIAN_DAY, &status);

		icu_check(status, "a day");
		if (pc->kind == PERIOD_WEEK)
		{
			jd = week_start_jd(pc, jd);
			idx = floor_div(jd, 7);
			start_ms = jd_start(cal, jd);
			end_ms = jd_start(cal, jd + 7);
		}
		else
		{
			idx = jd;
			start_ms = jd_start(cal, jd);
			end_ms = jd_start(cal, jd + 1);
		}
	}
	else
	{
		int64		ey = ucal_get(cal, UCAL_EXTENDED_YEAR, &status);
		int64		m = ucal_get(cal, UCAL_MONTH, &status);
		int64		len;

		icu_check(status, "a month");
		if (pc->kind == PERIOD_MONTH)
		{
			idx = ey * 12 + m;
			len = 1;
		}
		else if (pc->kind == PERIOD_QUARTER)
		{
			m -= m % 3;
			idx = ey * 4 + m / 3;
			len = 3;
		}
		else
		{
			m = 0;
			idx = ey;
			len = 12;
		}
		start_ms = month_start(cal, ey, m);
		end_ms = month_start(cal, ey, m + len);
	}

	pc->cache_start = ms_to_ts(start_ms);
	if (end_ms > start_ms)
	{
		pc->cache_end = (TimestampTz) end_ms * 1000 - UNIX_TO_PG_USECS;
		pc->cache_index = idx;
		pc->cache_valid = true;
		remember_span(pc);
	}
	else
		pc->cache_valid = false;
	if (index)
		*index = idx;
	return pc->cache_start;
}

TimestampTz
period_calendar_index_start(PeriodCalendar *pc, int64 index)
{
	UDate		ms;

	switch (pc->kind)
	{
		case PERIOD_HOUR:
			{
				int64		probe;
				TimestampTz start;

				/*
				 * The hour with index i starts in [i h, (i+1) h); it is the
				 * hour holding the last millisecond of that range.
				 */
				int64		off = UNIX_TO_PG_USECS / USECS_PER_HOUR;

				if (index < floor_div(MIN_TIMESTAMP, USECS_PER_HOUR) + off ||
					index >= floor_div(END_TIMESTAMP, USECS_PER_HOUR) + off)
					ereport(ERROR,
							(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
							 errmsg("period index %lld out of range", (long long) index)));
				probe = (index + 1 - off) * USECS_PER_HOUR - 1000;
				if (probe >= END_TIMESTAMP)
					probe = END_TIMESTAMP - 1;
				start = period_calendar_locate(pc, probe, NULL);
				return start;
			}
		case PERIOD_DAY:
			ms = jd_start(pc->cal, index);
			break;
		case PERIOD_WEEK:
			if (index < 0 || index > PG_INT32_MAX / 7)
				ereport(ERROR,
						(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
						 errmsg("period index %lld out of range", (long long) index)));
			ms = jd_start(pc->cal, index * 7 + pc->week_residue);
			break;
		case PERIOD_MONTH:
			ms = month_start(pc->cal, floor_div(index, 12), index - floor_div(index, 12) * 12);
			break;
		case PERIOD_QUARTER:
			ms = month_start(pc->cal, floor_div(index, 4), (index - floor_div(index, 4) * 4) * 3);
			break;
		case PERIOD_YEAR:
		default:
			ms = month_start(pc->cal, index, 0);
			break;
	}
	return ms_to_ts(ms);
}

/*
 * Shared argument handling of the SQL entry points: (ts, period, zone
 * [, locale]); NULL ts, period or zone give NULL, a NULL locale means ISO.
 */
static PeriodCalendar *
calendar_from_args(FunctionCallInfo fcinfo, int first)
{
	text	   *locale = NULL;

	if (PG_NARGS() > first + 2 && !PG_ARGISNULL(first + 2))
		locale = PG_GETARG_TEXT_PP(first + 2);
	return period_calendar_get(&fcinfo->flinfo->fn_extra, fcinfo->flinfo->fn_mcxt,
							   PG_GETARG_TEXT_PP(first), PG_GETARG_TEXT_PP(first + 1),
							   locale);
}

/*
 * period_start(ts timestamptz, period text, time_zone text, locale text)
 */
Datum
apivalue_period_start(PG_FUNCTION_ARGS)
{
	PeriodCalendar *pc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	pc = calendar_from_args(fcinfo, 1);
	PG_RETURN_TIMESTAMPTZ(period_calendar_locate(pc, PG_GETARG_TIMESTAMPTZ(0), NULL));
}

/*
 * period_index(ts timestamptz, period text, time_zone text, locale text)
 *	  → bigint; consecutive periods have consecutive indexes, so the
 *	  difference of two indexes counts the periods between them.
 */
Datum
apivalue_period_index(PG_FUNCTION_ARGS)
{
	PeriodCalendar *pc;
	int64		idx;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	pc = calendar_from_args(fcinfo, 1);
	(void) period_calendar_locate(pc, PG_GETARG_TIMESTAMPTZ(0), &idx);
	PG_RETURN_INT64(idx);
}

/*
 * period_index_start(index bigint, period text, time_zone text, locale text)
 *	  → timestamptz, the start of the period with that index.
 */
Datum
apivalue_period_index_start(PG_FUNCTION_ARGS)
{
	PeriodCalendar *pc;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	pc = calendar_from_args(fcinfo, 1);
	PG_RETURN_TIMESTAMPTZ(period_calendar_index_start(pc, PG_GETARG_INT64(0)));
}

/*
 * week_first_day(locale text) → int, ISO day number (1 = Monday ... 7 =
 * Sunday) on which the locale's weeks start; NULL locale → 1.
 */
Datum
apivalue_period_first_day(PG_FUNCTION_ARGS)
{
	PeriodCalendar *pc;
	text	   *locale = PG_ARGISNULL(0) ? NULL : PG_GETARG_TEXT_PP(0);
	int			first;

	pc = period_calendar_get(&fcinfo->flinfo->fn_extra, fcinfo->flinfo->fn_mcxt,
							 cstring_to_text("week"), cstring_to_text("UTC"), locale);
	first = ucal_getAttribute(pc->cal, UCAL_FIRST_DAY_OF_WEEK);
	PG_RETURN_INT32(first == UCAL_SUNDAY ? 7 : first - 1);
}
