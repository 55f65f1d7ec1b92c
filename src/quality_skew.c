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
 * bytes per event; during aggregation it is a working state (the flat layout
 * with free room after the events, quality_common.h) appended in place (no
 * per-row palloc, doubling when full), sorted once when read, and two
 * states merge by concatenation.
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
#include "nodes/execnodes.h"
#include "port/pg_bitutils.h"
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

/*
 * The working form is SkewFlat with version QUALITY_WORK_SKEW and a varlena
 * size that is its capacity; n events are in use.
 */
#define SKEW_WORK_CAP(w) \
	((int64) ((VARSIZE(w) - SKEW_HDRSZ) / sizeof(SkewEvent)))

/* Read-only view of a summary. */
typedef struct SkewView
{
	int32		n;
	bool		sorted;
	const SkewEvent *events;
} SkewView;

/* Arrival order: received_at, then client_ts, then offset. */
static inline int
skew_cmp_arrival(const SkewEvent *x, const SkewEvent *y)
{
	if (x->received != y->received)
		return x->received < y->received ? -1 : 1;
	if (x->client != y->client)
		return x->client < y->client ? -1 : 1;
	return (x->offset > y->offset) - (x->offset < y->offset);
}

/*
 * Sorts generated from PostgreSQL's sort template with the comparison
 * inlined (a summary is sorted once per group, the offsets once per median).
 */
#define ST_SORT skew_sort_arrival
#define ST_ELEMENT_TYPE SkewEvent
#define ST_COMPARE(a, b) skew_cmp_arrival(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

#define ST_SORT skew_sort_int64
#define ST_ELEMENT_TYPE int64
#define ST_COMPARE(a, b) ((*(a) > *(b)) - (*(a) < *(b)))
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

/*
 * Sort events into arrival order, adapting to input that is nearly so (a
 * device's events mostly reach the table in the order they arrived): count
 * the descents; none, and it is sorted; a few (at most log2(n) + 2), and
 * each event out of place is moved back into place, as long as the moves
 * stay within a budget of a few per event (a few descents can still hide
 * long interleaved runs, which would make this quadratic); else, or once
 * the budget is spent, the full sort.  The result is the same.
 */
static void
skew_sort_arrival_adaptive(SkewEvent *e, int32 n)
{
	int32		descents = 0;
	int64		budget = 4 * (int64) n + 64;
	int32		i;

	for (i = 1; i < n; i++)
		descents += (skew_cmp_arrival(&e[i - 1], &e[i]) > 0);
	if (descents == 0)
		return;
	if (descents > pg_leftmost_one_pos32((uint32) n) + 2)
	{
		skew_sort_arrival(e, n);
		return;
	}
	for (i = 1; i < n; i++)
	{
		if (skew_cmp_arrival(&e[i - 1], &e[i]) > 0)
		{
			SkewEvent	t = e[i];
			int32		j = i;

			do
			{
				e[j] = e[j - 1];
				j--;
			} while (j > 0 && skew_cmp_arrival(&e[j - 1], &t) > 0 &&
					 --budget > 0);
			e[j] = t;
			if (budget <= 0)
			{
				/* Still a permutation of the events: sort it all. */
				skew_sort_arrival(e, n);
				return;
			}
		}
	}
}

/*
 * The k-th smallest of a[0..n-1] (0-based), reordering a: quickselect with
 * a median-of-three pivot, O(n) expected; a range of fewer than 24 values
 * is insertion-sorted, and a range still large after 2 log2(n) rounds
 * (adversarial input) sorted, so the worst case stays O(n log n).
 */
static int64
skew_select_int64(int64 *a, int32 n, int32 k)
{
	int32		lo = 0;
	int32		hi = n - 1;
	int			budget = 2 * (pg_leftmost_one_pos32((uint32) Max(n, 1)) + 1);

	while (hi - lo >= 24 && budget-- > 0)
	{
		int32		mid = lo + (hi - lo) / 2;
		int64		pivot;
		int64		t;
		int32		i;
		int32		j;

		/* Median of three as pivot (also a sentinel at each end). */
		if (a[mid] < a[lo])
		{
			t = a[mid]; a[mid] = a[lo]; a[lo] = t;
		}
		if (a[hi] < a[lo])
		{
			t = a[hi]; a[hi] = a[lo]; a[lo] = t;
		}
		if (a[hi] < a[mid])
		{
			t = a[hi]; a[hi] = a[mid]; a[mid] = t;
		}
		pivot = a[mid];

		/* Hoare partition of [lo, hi]: [lo, j] <= pivot <= [j + 1, hi]. */
		i = lo - 1;
		j = hi + 1;
		for (;;)
		{
			do
				i++;
			while (a[i] < pivot);
			do
				j--;
			while (a[j] > pivot);
			if (i >= j)
				break;
			t = a[i]; a[i] = a[j]; a[j] = t;
		}
		if (k <= j)
			hi = j;
		else
			lo = j + 1;
	}
	if (hi - lo >= 24)
		skew_sort_int64(a + lo, hi - lo + 1);
	else
	{
		/* A short range: insertion sort. */
		int32		i;

		for (i = lo + 1; i <= hi; i++)
		{
			int64		t = a[i];
			int32		j = i;

			while (j > lo && a[j - 1] > t)
			{
				a[j] = a[j - 1];
				j--;
			}
			a[j] = t;
		}
	}
	return a[k];
}

/* A new, empty working state with room for at least nevents events. */
static SkewFlat *
skew_work_new(int64 nevents, Size want)
{
	SkewFlat   *w;
	Size		need = SKEW_HDRSZ + sizeof(SkewEvent) * (Size) Max(nevents, 0);

	/* Rounded up to a power of two: doubling as the state grows. */
	/* Only the header zeroed: events are written before they are read. */
	w = (SkewFlat *) quality_work_alloc_ext(need, want, QUALITY_WORK_SKEW,
											SKEW_TYPE, SKEW_HDRSZ);
	w->sorted = true;
	return w;
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

/* The same checks for a working state, the count bounded by the capacity. */
static const SkewFlat *
skew_check_work(struct varlena *v)
{
	const SkewFlat *w = (const SkewFlat *) v;

	if (VARSIZE(v) < SKEW_HDRSZ)
		quality_corrupt(SKEW_TYPE, "value is too short");
	if (w->n < 0 || w->n > SKEW_WORK_CAP(w))
		quality_corrupt(SKEW_TYPE, "event count does not match the size");
	if (w->sorted > 1)
		quality_corrupt(SKEW_TYPE, "invalid flags");
	return w;
}

/* The events of a summary (flat or working) as they are stored. */
static void
skew_raw_view(Datum d, SkewView *view)
{
	struct varlena *v = PG_DETOAST_DATUM(d);
	const SkewFlat *f;

	if (VARSIZE(v) > VARHDRSZ && ((uint8 *) VARDATA(v))[0] == QUALITY_WORK_SKEW)
		f = skew_check_work(v);
	else
		f = skew_check_flat(v);
	view->n = f->n;
	view->sorted = f->sorted || f->n < 2;
	view->events = f->events;
}

/*
 * A view of a summary in arrival order: as stored when sorted, else a
 * sorted copy (a value read is never modified).
 */
static void
skew_view(Datum d, SkewView *view)
{
	skew_raw_view(d, view);
	if (!view->sorted)
	{
		SkewEvent  *copy = palloc_array(SkewEvent, view->n);

		memcpy(copy, view->events, sizeof(SkewEvent) * view->n);
		skew_sort_arrival_adaptive(copy, view->n);
		view->events = copy;
		view->sorted = true;
	}
}

/* The flat form of a view, in arrival order when sort, palloc'd. */
static struct varlena *
skew_flat_from_view(const SkewView *v, bool sort)
{
	Size		size = SKEW_HDRSZ + sizeof(SkewEvent) * (Size) v->n;
	SkewFlat   *f = palloc(size);

	memset(f, 0, SKEW_HDRSZ);
	SET_VARSIZE(f, size);
	f->version = QUALITY_STATE_VERSION;
	f->n = v->n;
	f->sorted = v->sorted;
	if (v->n > 0)
		memcpy(f->events, v->events, sizeof(SkewEvent) * v->n);
	if (sort && !v->sorted)
	{
		skew_sort_arrival_adaptive(f->events, f->n);
		f->sorted = true;
	}
	return (struct varlena *) f;
}

struct varlena *
skew_work_flatten(struct varlena *work)
{
	SkewView	v;

	skew_raw_view(PointerGetDatum(work), &v);
	return skew_flat_from_view(&v, false);
}

/*
 * Append n events to working state w; returns the state to keep (w, or a
 * copy twice as large in the current memory context when w is full).
 */
static SkewFlat *
skew_append(SkewFlat *w, const SkewEvent *ev, int32 n)
{
	if (n == 0)
		return w;
	if ((int64) w->n + n > SKEW_WORK_CAP(w))
	{
		SkewFlat   *nw;

		nw = skew_work_new((int64) w->n + n, 0);

		nw->sorted = w->sorted;
		nw->n = w->n;
		memcpy(nw->events, w->events, sizeof(SkewEvent) * w->n);
		w = nw;
	}
	memcpy(w->events + w->n, ev, sizeof(SkewEvent) * n);
	/* Callers appending a sorted run to an empty state mark it sorted. */
	if (n > 1 || (w->n > 0 && skew_cmp_arrival(&w->events[w->n - 1], ev) > 0))
		w->sorted = false;
	w->n += n;
	return w;
}

/*
 * Add the events of v to working state w; returns the state to keep (w, or
 * a larger copy in the current memory context).  When both are in arrival
 * order (partial states from parallel workers usually are: a device's
 * events mostly reach the table in the order they arrived), they are
 * merged, from the back, into w's free room, so the result stays in
 * arrival order and the final need not sort; else they are concatenated
 * and sorted when read.  Events equal in the arrival order are equal in
 * every byte, so the order is the one a sort gives.
 */
static SkewFlat *
skew_add_view(SkewFlat *w, const SkewView *v)
{
	SkewEvent  *e;
	const SkewEvent *s;
	int32		i;
	int32		j;
	int64		k;

	if (v->n == 0)
		return w;
	if (w->n == 0)
	{
		w = skew_append(w, v->events, v->n);
		w->sorted = v->sorted;
		return w;
	}
	if (!(w->sorted || w->n < 2) || !v->sorted ||
		skew_cmp_arrival(&w->events[w->n - 1], &v->events[0]) <= 0)
		return skew_append(w, v->events, v->n);
	if ((int64) w->n + v->n > SKEW_WORK_CAP(w))
	{
		SkewFlat   *nw = skew_work_new((int64) w->n + v->n, 0);

		nw->n = w->n;
		memcpy(nw->events, w->events, sizeof(SkewEvent) * w->n);
		w = nw;
	}
	e = w->events;
	s = v->events;
	i = w->n - 1;
	j = v->n - 1;
	k = (int64) w->n + v->n - 1;
	while (j >= 0)
	{
		if (i >= 0 && skew_cmp_arrival(&e[i], &s[j]) > 0)
			e[k--] = e[i--];
		else
			e[k--] = s[j--];
	}
	w->n += v->n;
	w->sorted = true;
	return w;
}

/*
 * The state of argument argno, ready to be modified in place: the
 * aggregate's working state, or a new one (current memory context).
 */
static SkewFlat *
skew_for_update(FunctionCallInfo fcinfo, int argno)
{
	SkewFlat   *w;
	SkewView	v;

	w = (SkewFlat *) quality_work_arg(fcinfo, argno, QUALITY_WORK_SKEW);
	if (w)
		return w;
	if (PG_ARGISNULL(argno))
		return skew_work_new(0, 0);
	skew_raw_view(PG_GETARG_DATUM(argno), &v);
	w = skew_work_new(v.n, 0);
	w = skew_append(w, v.events, v.n);
	w->sorted = v.sorted;		/* in arrival order as the value was */
	return w;
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
	SkewFlat   *w;
	SkewEvent	ev;
	TimestampTz sent;

	/* The checks of every row, inline; the calls only to raise errors. */
	if (unlikely(fcinfo->context == NULL ||
				 !(IsA(fcinfo->context, AggState) ||
				   IsA(fcinfo->context, WindowAggState))))
		quality_agg_context(fcinfo, "clock_skew_summary");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	ev.client = PG_GETARG_TIMESTAMPTZ(1);
	sent = PG_GETARG_TIMESTAMPTZ(2);
	ev.received = PG_GETARG_TIMESTAMPTZ(3);
	if (unlikely(TIMESTAMP_NOT_FINITE(ev.client) || TIMESTAMP_NOT_FINITE(sent) ||
				 TIMESTAMP_NOT_FINITE(ev.received)))
	{
		quality_check_finite(ev.client, "client_ts");
		quality_check_finite(sent, "sent_at");
		quality_check_finite(ev.received, "received_at");
	}
	ev.offset = sent - ev.received;

	/* The aggregate's own working state (quality_work_arg, inline). */
	w = NULL;
	if (!PG_ARGISNULL(0))
	{
		struct varlena *v = (struct varlena *) DatumGetPointer(PG_GETARG_DATUM(0));

		if (VARATT_IS_4B_U(v) && VARSIZE(v) >= SKEW_HDRSZ &&
			((uint8 *) VARDATA(v))[0] == QUALITY_WORK_SKEW)
			w = (SkewFlat *) v;
	}
	if (w == NULL)
		w = skew_for_update(fcinfo, 0);
	if (w->n < SKEW_WORK_CAP(w))
	{
		/* Fast path: room left, no reallocation. */
		if (w->sorted && w->n > 0 && skew_cmp_arrival(&w->events[w->n - 1], &ev) > 0)
			w->sorted = false;
		w->events[w->n++] = ev;
	}
	else
		w = skew_append(w, &ev, 1);
	PG_RETURN_POINTER(w);
}

/*
 * Combine (and rollup transition): merge when both are in arrival order,
 * else concatenate and sort when read (skew_add_view).
 */
PG_FUNCTION_INFO_V1(apivalue_clock_skew_summary_combine);
Datum
apivalue_clock_skew_summary_combine(PG_FUNCTION_ARGS)
{
	SkewFlat   *w;
	SkewView	v;

	quality_agg_context(fcinfo, "rollup");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	if (PG_ARGISNULL(0))
	{
		struct varlena *first = PG_DETOAST_DATUM(PG_GETARG_DATUM(1));

		/*
		 * The first state of a group becomes the transition value as it is:
		 * the executor copies it into the aggregate context (it differs from
		 * the NULL before), the one copy it needs.  Checked first.
		 */
		skew_raw_view(PointerGetDatum(first), &v);
		PG_RETURN_POINTER(first);
	}
	skew_raw_view(PG_GETARG_DATUM(1), &v);
	w = skew_for_update(fcinfo, 0);
	w = skew_add_view(w, &v);
	PG_RETURN_POINTER(w);
}

PG_FUNCTION_INFO_V1(apivalue_clock_skew_summary_final);
Datum
apivalue_clock_skew_summary_final(PG_FUNCTION_ARGS)
{
	SkewView	v;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();

	/*
	 * Store sorted, so readers of the stored summary need not sort.  A flat
	 * value (a combine that kept its first input as it came, as on a Citus
	 * coordinator) may carry its "sorted" flag unset: it is sorted here too,
	 * so a summary has one stored form whatever plan made it.
	 */
	skew_raw_view(PG_GETARG_DATUM(0), &v);
	PG_RETURN_POINTER(skew_flat_from_view(&v, true));
}

/* ---------- accessors ---------- */

PG_FUNCTION_INFO_V1(apivalue_clock_skew_event_count);
Datum
apivalue_clock_skew_event_count(PG_FUNCTION_ARGS)
{
	SkewView	v;

	skew_raw_view(PG_GETARG_DATUM(0), &v);
	PG_RETURN_INT64(v.n);
}

/*
 * The lower median of the offsets (an offset that occurred), selected in
 * O(n); small summaries copy their offsets on the stack.
 */
#define SKEW_MEDIAN_STACK 128

PG_FUNCTION_INFO_V1(apivalue_clock_skew_median_offset);
Datum
apivalue_clock_skew_median_offset(PG_FUNCTION_ARGS)
{
	SkewView	v;
	int64		local[SKEW_MEDIAN_STACK];
	int64	   *offsets;
	int64		median;
	int32		i;

	skew_raw_view(PG_GETARG_DATUM(0), &v);
	if (v.n == 0)
		PG_RETURN_NULL();
	offsets = v.n <= SKEW_MEDIAN_STACK ? local : palloc_array(int64, v.n);
	for (i = 0; i < v.n; i++)
		offsets[i] = v.events[i].offset;
	median = skew_select_int64(offsets, v.n, (v.n - 1) / 2);
	if (offsets != local)
		pfree(offsets);
	PG_RETURN_INTERVAL_P(quality_usec_interval(median));
}

PG_FUNCTION_INFO_V1(apivalue_clock_skew_max_abs_offset);
Datum
apivalue_clock_skew_max_abs_offset(PG_FUNCTION_ARGS)
{
	SkewView	v;
	int64		m = 0;
	int32		i;

	skew_raw_view(PG_GETARG_DATUM(0), &v);
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

	skew_raw_view(PG_GETARG_DATUM(0), &v);
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

	skew_raw_view(PG_GETARG_DATUM(0), &v);
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
