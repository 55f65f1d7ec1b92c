/*-------------------------------------------------------------------------
 *
 * quality_skew.c
 *	  Clock skew: corrected timestamps and a per-device skew summary.
 *
 * A device's clock offset is estimated per event as sent_at - received_at
 * (device clock at sending minus server clock at arrival; network delay
 * ignored), the estimate Segment and Snowplow use to correct timestamps.
 * The summary keeps, per event, (received_at, client_ts, offset) so that it
 * can report exactly:
 *	 - the median offset (the lower median: an offset that occurred),
 *	 - the largest absolute offset,
 *	 - how many events were stamped in the future (client_ts > received_at),
 *	 - how many arrived out of order: in arrival order (received_at, then
 *	   client_ts), events stamped earlier than an event that arrived before
 *	   them.
 * Exact medians and arrival order need every event, so the state is 24
 * bytes per event; it is appended in place (no per-row palloc), sorted once
 * when read, and two states merge by concatenation.
 *
 * Flat form (SQL type apivalue.clock_skew_summary):
 *	 int32 vl_len_, uint8 version, uint8 sorted, uint16 unused, int32 n,
 *	 SkewEvent events[n]
 *
 * src/quality_skew.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "quality_common.h"

typedef struct SkewEvent
{
	int64		received;
	int64		client;
	int64		offset;			/* sent_at - received_at */
} SkewEvent;

typedef struct SkewFlat
{
	int32		vl_len_;
	uint8		version;
	uint8		sorted;
	uint16		unused;
	int32		n;
	SkewEvent	events[FLEXIBLE_ARRAY_MEMBER];
} SkewFlat;

#define SKEW_HDRSZ offsetof(SkewFlat, events)
#define SKEW_TYPE "apivalue.clock_skew_summary"

typedef struct SkewExpanded
{
	ExpandedObjectHeader hdr;
	bool		sorted;
	int32		n;
	int32		cap;
	SkewEvent  *events;
} SkewExpanded;

static Size skew_get_flat_size(ExpandedObjectHeader *eohptr);
static void skew_flatten_into(ExpandedObjectHeader *eohptr, void *result,
							  Size allocated_size);

static const ExpandedObjectMethods skew_methods = {
	skew_get_flat_size,
	skew_flatten_into
};

/* Read-only view of a summary. */
typedef struct SkewView
{
	int32		n;
	const SkewEvent *events;
} SkewView;

static int
cmp_arrival(const void *a, const void *b)
{
	const SkewEvent *x = a;
	const SkewEvent *y = b;

	if (x->received != y->received)
		return x->received < y->received ? -1 : 1;
	if (x->client != y->client)
		return x->client < y->client ? -1 : 1;
	return (x->offset > y->offset) - (x->offset < y->offset);
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

static void
skew_sort(SkewExpanded *s)
{
	if (!s->sorted && s->n > 1)
		qsort(s->events, s->n, sizeof(SkewEvent), cmp_arrival);
	s->sorted = true;
}

static Size
skew_get_flat_size(ExpandedObjectHeader *eohptr)
{
	SkewExpanded *s = (SkewExpanded *) eohptr;

	return SKEW_HDRSZ + sizeof(SkewEvent) * (Size) s->n;
}

static void
skew_flatten_into(ExpandedObjectHeader *eohptr, void *result,
				  Size allocated_size)
{
	SkewExpanded *s = (SkewExpanded *) eohptr;
	SkewFlat   *f = (SkewFlat *) result;

	Assert(allocated_size == SKEW_HDRSZ + sizeof(SkewEvent) * (Size) s->n);
	memset(f, 0, SKEW_HDRSZ);
	SET_VARSIZE(f, allocated_size);
	f->version = QUALITY_STATE_VERSION;
	f->sorted = s->sorted;
	f->n = s->n;
	if (s->n > 0)
		memcpy(f->events, s->events, sizeof(SkewEvent) * s->n);
}

static SkewExpanded *
skew_new(MemoryContext parent)
{
	MemoryContext cxt = quality_state_context(parent);
	SkewExpanded *s = MemoryContextAllocZero(cxt, sizeof(SkewExpanded));

	EOH_init_header(&s->hdr, &skew_methods, cxt);
	s->sorted = true;
	return s;
}

static const SkewFlat *
skew_check_flat(struct varlena *v)
{
	const SkewFlat *f = (const SkewFlat *) v;
	Size		size = VARSIZE(v);

	if (size < SKEW_HDRSZ)
		quality_corrupt(SKEW_TYPE, "value is too short");
	if (f->version != QUALITY_STATE_VERSION)
		quality_corrupt(SKEW_TYPE, psprintf("unknown version %d", f->version));
	if (f->n < 0 || (Size) f->n > (size - SKEW_HDRSZ) / sizeof(SkewEvent) ||
		size != SKEW_HDRSZ + (Size) f->n * sizeof(SkewEvent))
		quality_corrupt(SKEW_TYPE, "event count does not match the size");
	if (f->sorted > 1)
		quality_corrupt(SKEW_TYPE, "invalid flags");
	return f;
}

/*
 * A view of a summary; an expanded one is sorted in place first (same
 * content, arrival order), a flat unsorted one is copied and sorted.
 */
static void
skew_view(Datum d, SkewView *view)
{
	ExpandedObjectHeader *eoh = quality_expanded(d, &skew_methods);

	if (eoh)
	{
		SkewExpanded *s = (SkewExpanded *) eoh;

		skew_sort(s);
		view->n = s->n;
		view->events = s->events;
	}
	else
	{
		const SkewFlat *f = skew_check_flat(PG_DETOAST_DATUM(d));

		view->n = f->n;
		if (f->sorted || f->n < 2)
			view->events = f->events;
		else
		{
			SkewEvent  *copy = palloc_array(SkewEvent, f->n);

			memcpy(copy, f->events, sizeof(SkewEvent) * f->n);
			qsort(copy, f->n, sizeof(SkewEvent), cmp_arrival);
			view->events = copy;
		}
	}
}

static void
skew_append(SkewExpanded *s, const SkewEvent *ev, int32 n)
{
	if (n == 0)
		return;
	quality_reserve((void **) &s->events, &s->cap, (int64) s->n + n,
					sizeof(SkewEvent), s->hdr.eoh_context);
	memcpy(s->events + s->n, ev, sizeof(SkewEvent) * n);
	/* Callers appending a sorted run to an empty state mark it sorted. */
	if (n > 1 || (s->n > 0 && cmp_arrival(&s->events[s->n - 1], ev) > 0))
		s->sorted = false;
	s->n += n;
}

static SkewExpanded *
skew_for_update(FunctionCallInfo fcinfo, int argno, MemoryContext aggcxt)
{
	SkewExpanded *s;
	SkewView	v;
	Datum		d;

	if (PG_ARGISNULL(argno))
		return skew_new(aggcxt);
	d = PG_GETARG_DATUM(argno);
	s = (SkewExpanded *) quality_expanded(d, &skew_methods);
	if (s && VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(d)) &&
		MemoryContextGetParent(s->hdr.eoh_context) == aggcxt)
		return s;
	skew_view(d, &v);
	s = skew_new(aggcxt);
	skew_append(s, v.events, v.n);
	s->sorted = true;			/* a view is always in arrival order */
	return s;
}

/* ---------- scalar functions ---------- */

/*
 * clock_skew(sent_at, received_at): the device clock's offset,
 * sent_at - received_at.
 */
PG_FUNCTION_INFO_V1(apivalue_clock_skew);
Datum
apivalue_clock_skew(PG_FUNCTION_ARGS)
{
	TimestampTz sent = PG_GETARG_TIMESTAMPTZ(0);
	TimestampTz received = PG_GETARG_TIMESTAMPTZ(1);

	quality_check_finite(sent, "sent_at");
	quality_check_finite(received, "received_at");
	PG_RETURN_INTERVAL_P(quality_usec_interval(sent - received));
}

/*
 * corrected_timestamp(client_ts, sent_at, received_at): the event time on
 * the server's clock, received_at - (sent_at - client_ts).
 */
PG_FUNCTION_INFO_V1(apivalue_corrected_timestamp);
Datum
apivalue_corrected_timestamp(PG_FUNCTION_ARGS)
{
	TimestampTz client = PG_GETARG_TIMESTAMPTZ(0);
	TimestampTz sent = PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz received = PG_GETARG_TIMESTAMPTZ(2);
	TimestampTz result;

	quality_check_finite(client, "client_ts");
	quality_check_finite(sent, "sent_at");
	quality_check_finite(received, "received_at");
	/* Finite timestamps are far from int64 limits: no overflow here. */
	result = received - (sent - client);
	if (!IS_VALID_TIMESTAMP(result))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("corrected timestamp is out of range")));
	PG_RETURN_TIMESTAMPTZ(result);
}

/* ---------- type I/O ---------- */

PG_FUNCTION_INFO_V1(apivalue_clock_skew_summary_in);
Datum
apivalue_clock_skew_summary_in(PG_FUNCTION_ARGS)
{
	Datum		d = DirectFunctionCall1(byteain, PG_GETARG_DATUM(0));

	skew_check_flat((struct varlena *) DatumGetPointer(d));
	return d;
}

PG_FUNCTION_INFO_V1(apivalue_clock_skew_summary_recv);
Datum
apivalue_clock_skew_summary_recv(PG_FUNCTION_ARGS)
{
	Datum		d = DirectFunctionCall1(bytearecv, PG_GETARG_DATUM(0));

	skew_check_flat((struct varlena *) DatumGetPointer(d));
	return d;
}

/* ---------- aggregate ---------- */

/*
 * clock_skew_summary(client_ts, sent_at, received_at) transition.  Rows
 * with any NULL are skipped; infinite timestamps are errors.
 */
PG_FUNCTION_INFO_V1(apivalue_clock_skew_summary_accum);
Datum
apivalue_clock_skew_summary_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = quality_agg_context(fcinfo, "clock_skew_summary");
	SkewExpanded *s;
	SkewEvent	ev;
	TimestampTz sent;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	ev.client = PG_GETARG_TIMESTAMPTZ(1);
	sent = PG_GETARG_TIMESTAMPTZ(2);
	ev.received = PG_GETARG_TIMESTAMPTZ(3);
	quality_check_finite(ev.client, "client_ts");
	quality_check_finite(sent, "sent_at");
	quality_check_finite(ev.received, "received_at");
	ev.offset = sent - ev.received;

	s = skew_for_update(fcinfo, 0, aggcxt);
	if (s->n < s->cap)
	{
		/* Fast path: room left, no reallocation. */
		if (s->sorted && s->n > 0 && cmp_arrival(&s->events[s->n - 1], &ev) > 0)
			s->sorted = false;
		s->events[s->n++] = ev;
	}
	else
		skew_append(s, &ev, 1);
	PG_RETURN_DATUM(EOHPGetRWDatum(&s->hdr));
}

/* Combine (and rollup transition): concatenate, sort when read. */
PG_FUNCTION_INFO_V1(apivalue_clock_skew_summary_combine);
Datum
apivalue_clock_skew_summary_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = quality_agg_context(fcinfo, "rollup");
	SkewExpanded *s;
	SkewView	v;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	skew_view(PG_GETARG_DATUM(1), &v);
	s = skew_for_update(fcinfo, 0, aggcxt);
	skew_append(s, v.events, v.n);
	PG_RETURN_DATUM(EOHPGetRWDatum(&s->hdr));
}

PG_FUNCTION_INFO_V1(apivalue_clock_skew_summary_final);
Datum
apivalue_clock_skew_summary_final(PG_FUNCTION_ARGS)
{
	ExpandedObjectHeader *eoh;
	Size		size;
	void	   *result;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	eoh = quality_expanded(PG_GETARG_DATUM(0), &skew_methods);
	if (!eoh)
		PG_RETURN_DATUM(PointerGetDatum(PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0))));
	/* Store sorted, so readers of the stored summary need not sort. */
	skew_sort((SkewExpanded *) eoh);
	size = skew_get_flat_size(eoh);
	result = palloc(size);
	skew_flatten_into(eoh, result, size);
	PG_RETURN_POINTER(result);
}

/* ---------- accessors ---------- */

PG_FUNCTION_INFO_V1(apivalue_clock_skew_event_count);
Datum
apivalue_clock_skew_event_count(PG_FUNCTION_ARGS)
{
	SkewView	v;

	skew_view(PG_GETARG_DATUM(0), &v);
	PG_RETURN_INT64(v.n);
}

/* The lower median of the offsets (an offset that occurred). */
PG_FUNCTION_INFO_V1(apivalue_clock_skew_median_offset);
Datum
apivalue_clock_skew_median_offset(PG_FUNCTION_ARGS)
{
	SkewView	v;
	int64	   *offsets;
	int32		i;

	skew_view(PG_GETARG_DATUM(0), &v);
	if (v.n == 0)
		PG_RETURN_NULL();
	offsets = palloc_array(int64, v.n);
	for (i = 0; i < v.n; i++)
		offsets[i] = v.events[i].offset;
	qsort(offsets, v.n, sizeof(int64), cmp_int64);
	PG_RETURN_INTERVAL_P(quality_usec_interval(offsets[(v.n - 1) / 2]));
}

PG_FUNCTION_INFO_V1(apivalue_clock_skew_max_abs_offset);
Datum
apivalue_clock_skew_max_abs_offset(PG_FUNCTION_ARGS)
{
	SkewView	v;
	int64		m = 0;
	int32		i;

	skew_view(PG_GETARG_DATUM(0), &v);
	if (v.n == 0)
		PG_RETURN_NULL();
	for (i = 0; i < v.n; i++)
	{
		int64		a = v.events[i].offset;

		/* Offsets of finite timestamps are far from INT64_MIN. */
		if (a < 0)
			a = -a;
		m = Max(m, a);
	}
	PG_RETURN_INTERVAL_P(quality_usec_interval(m));
}

PG_FUNCTION_INFO_V1(apivalue_clock_skew_future_count);
Datum
apivalue_clock_skew_future_count(PG_FUNCTION_ARGS)
{
	SkewView	v;
	int64		k = 0;
	int32		i;

	skew_view(PG_GETARG_DATUM(0), &v);
	for (i = 0; i < v.n; i++)
		k += (v.events[i].client > v.events[i].received);
	PG_RETURN_INT64(k);
}

PG_FUNCTION_INFO_V1(apivalue_clock_skew_future_share);
Datum
apivalue_clock_skew_future_share(PG_FUNCTION_ARGS)
{
	SkewView	v;
	int64		k = 0;
	int32		i;

	skew_view(PG_GETARG_DATUM(0), &v);
	if (v.n == 0)
		PG_RETURN_NULL();
	for (i = 0; i < v.n; i++)
		k += (v.events[i].client > v.events[i].received);
	PG_RETURN_FLOAT8((double) k / (double) v.n);
}

/*
 * Events that arrived after an event stamped later than them: in arrival
 * order, client_ts below the running maximum of the events before.
 */
PG_FUNCTION_INFO_V1(apivalue_clock_skew_out_of_order_count);
Datum
apivalue_clock_skew_out_of_order_count(PG_FUNCTION_ARGS)
{
	SkewView	v;
	int64		k = 0;
	int64		runmax = PG_INT64_MIN;
	int32		i;

	skew_view(PG_GETARG_DATUM(0), &v);
	for (i = 0; i < v.n; i++)
	{
		if (i > 0 && v.events[i].client < runmax)
			k++;
		runmax = Max(runmax, v.events[i].client);
	}
	PG_RETURN_INT64(k);
}
