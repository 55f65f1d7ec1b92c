/*-------------------------------------------------------------------------
 *
 * event_buffer.c
 *	  Compact per-group event records: growth, sort, merge, serialization.
 *
 * See event_buffer.h for the design.  Sorting uses PostgreSQL's sort
 * template (specialized for the record type);
 * merging two sorted runs is linear.  Sizes use the "huge" allocation API so
 * that one group may hold more than 64M records (1 GB) when memory allows;
 * beyond that the request fails with a clear out-of-memory error rather than
 * wrapping.
 *
 * src/event_buffer.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "event_buffer.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#define AV_EVENTS_INITIAL 16

void
av_events_init(AvEventBuffer *buf)
{
	buf->events = NULL;
	buf->nevents = 0;
	buf->capacity = 0;
	buf->sorted = true;
}

/*
 * Make room for at least "needed" records, doubling the capacity so that
 * appending stays amortized O(1).
 */
void
av_events_grow(AvEventBuffer *buf, int64 needed)
{
	int64		newcap = Max(buf->capacity, AV_EVENTS_INITIAL);
	Size		bytes;

	while (newcap < needed)
		newcap *= 2;
	if (newcap == buf->capacity)
		return;
	if ((Size) newcap > MaxAllocHugeSize / sizeof(AvEvent))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many events in one group: %lld",
						(long long) needed)));
	bytes = (Size) newcap * sizeof(AvEvent);
	if (buf->events == NULL)
		buf->events = MemoryContextAllocHuge(CurrentMemoryContext, bytes);
	else
		buf->events = repalloc_huge(buf->events, bytes);
	buf->capacity = newcap;
}

/*
 * A sort specialized for AvEvent by PostgreSQL's sort template: the
 * comparison is inlined instead of called through a pointer, which matters
 * when the final functions of 200k groups each sort a few dozen records.
 */
#define ST_SORT av_events_qsort
#define ST_ELEMENT_TYPE AvEvent
#define ST_COMPARE(a, b) av_event_cmp(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

void
av_events_sort(AvEventBuffer *buf)
{
	if (buf->sorted)
		return;
	if (buf->nevents > 1)
		av_events_qsort(buf->events, buf->nevents);
	buf->sorted = true;
}

void
av_events_sort_by(AvEventBuffer *buf,
				  int (*cmp) (const void *, const void *, void *), void *arg)
{
	if (buf->nevents > 1)
		qsort_arg(buf->events, buf->nevents, sizeof(AvEvent), cmp, arg);
	buf->sorted = false;
}

/*
 * Merge src into dst.  When both are sorted, merge from the back into the
 * grown dst array so no scratch copy is needed.
 */
void
av_events_merge(AvEventBuffer *dst, const AvEventBuffer *src)
{
	int64		n = dst->nevents;
	int64		m = src->nevents;

	if (m == 0)
		return;
	av_events_grow(dst, n + m);

	if (dst->sorted && src->sorted &&
		(n == 0 || av_event_cmp(&dst->events[n - 1], &src->events[0]) <= 0))
	{
		/* src goes entirely after dst: plain append keeps the order */
		memcpy(dst->events + n, src->events, m * sizeof(AvEvent));
	}
	else if (dst->sorted && src->sorted)
	{
		int64		i = n - 1;
		int64		j = m - 1;
		int64		k = n + m - 1;

		while (j >= 0)
		{
			if (i >= 0 && av_event_cmp(&dst->events[i], &src->events[j]) > 0)
				dst->events[k--] = dst->events[i--];
			else
				dst->events[k--] = src->events[j--];
		}
	}
	else
	{
		memcpy(dst->events + n, src->events, m * sizeof(AvEvent));
		dst->sorted = false;
	}
	dst->nevents = n + m;
}

Size
av_events_serialized_size(const AvEventBuffer *buf)
{
	return sizeof(int64) + (Size) buf->nevents * sizeof(AvEvent);
}

char *
av_events_serialize(const AvEventBuffer *buf, char *p)
{
	int64		n = buf->nevents;

	memcpy(p, &n, sizeof(int64));
	p += sizeof(int64);
	if (n > 0)
		memcpy(p, buf->events, n * sizeof(AvEvent));
	return p + n * sizeof(AvEvent);
}

const char *
av_events_deserialize(AvEventBuffer *buf, const char *p, const char *end)
{
	int64		n;
	int64		i;

	if (end - p < (ptrdiff_t) sizeof(int64))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid apivalue event state: truncated header")));
	memcpy(&n, p, sizeof(int64));
	p += sizeof(int64);
	if (n < 0 || (uint64) n > (uint64) (end - p) / sizeof(AvEvent))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid apivalue event state: %lld events in %lld bytes",
						(long long) n, (long long) (end - p))));
	av_events_grow(buf, buf->nevents + n);
	if (n > 0)
		memcpy(buf->events + buf->nevents, p, n * sizeof(AvEvent));
	for (i = buf->nevents; i < buf->nevents + n && buf->sorted; i++)
		if (i > 0 && av_event_cmp(&buf->events[i - 1], &buf->events[i]) > 0)
			buf->sorted = false;
	buf->nevents += n;
	return p + n * sizeof(AvEvent);
}

/*
 * A timestamp argument as int64 microseconds; infinite values are an error,
 * since no window or order is meaningful for them.
 */
int64
av_timestamp_arg(Timestamp ts)
{
	if (TIMESTAMP_NOT_FINITE(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range: infinite timestamps cannot be ordered into events")));
	return (int64) ts;
}

/*
 * A window interval as microseconds.  Months count as 30 days and days as 24
 * hours, as EXTRACT(EPOCH FROM interval) does; negative windows are errors.
 */
int64
av_window_usec(const Interval *window, const char *what)
{
	int64		usec;
	int64		days;

	days = (int64) window->month * DAYS_PER_MONTH + window->day;
	if (pg_mul_s64_overflow(days, USECS_PER_DAY, &usec) ||
		pg_add_s64_overflow(usec, window->time, &usec))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", what)));
	if (usec < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", what)));
	return usec;
}
