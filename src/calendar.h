/*-------------------------------------------------------------------------
 *
 * calendar.h
 *	  Calendar periods (hour, day, week, month, quarter, year) cut in a time
 *	  zone, with weeks starting on a locale's first day, through ICU.
 *
 * src/calendar.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APIVALUE_CALENDAR_H
#define APIVALUE_CALENDAR_H

#include "fmgr.h"
#include "utils/timestamp.h"

typedef enum PeriodKind
{
	PERIOD_HOUR,
	PERIOD_DAY,
	PERIOD_WEEK,
	PERIOD_MONTH,
	PERIOD_QUARTER,
	PERIOD_YEAR
} PeriodKind;

typedef struct PeriodCalendar PeriodCalendar;

/*
 * Returns the calendar for (period, zone, locale), cached in *cache (which
 * lives in mcxt, usually flinfo->fn_extra / fn_mcxt).  locale may be NULL
 * (ISO weeks, starting Monday).  Errors on unknown names.
 */
extern PeriodCalendar *period_calendar_get(void **cache, MemoryContext mcxt,
										   text *period, text *zone,
										   text *locale);

/*
 * Start of the period holding ts, and its index: an integer such that
 * consecutive periods have consecutive indexes.  Errors on infinite ts.
 */
extern TimestampTz period_calendar_locate(PeriodCalendar *pc, TimestampTz ts,
										  int64 *index);

/* Start of the period with the given index (inverse of the above). */
extern TimestampTz period_calendar_index_start(PeriodCalendar *pc, int64 index);

/* A hash of (period, zone, locale) so aggregate states can check they match. */
extern uint32 period_calendar_hash(PeriodCalendar *pc);

#endif							/* APIVALUE_CALENDAR_H */
