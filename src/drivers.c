/*-------------------------------------------------------------------------
 *
 * drivers.c
 *	  Per-user features for value drivers: what a user did in the first
 *	  days after their first event, and whether the outcome came later.
 *
 * Two aggregates share one state:
 *
 *	 apivalue.behavior_counts(ts, behavior, observation) -> jsonb
 *		{behavior: events} over [first event, first event + observation);
 *	 apivalue.driver_features(ts, behavior, outcome, server_error, latency,
 *		observation, ...) -> apivalue.driver_features
 *		the behaviours done at least min_times times in that window, the
 *		experience signals (>= k server errors, p95 latency above x ms) and
 *		whether the outcome held on an event after the window.
 *
 * The window depends on the group's first event, which is known only when
 * every row has been seen.  The state keeps the running first event m and
 * the rows that can still matter as 16-byte event_buffer records (ts, signal
 * bits, behaviour id): a row at or after m + observation can never fall in
 * the final window (the first event only moves earlier), so it is not kept,
 * and records the window has left are pruned whenever the buffer fills
 * before it grows.  Memory per user is therefore bounded by the rows of
 * their observation window (plus outcome rows of the outcome window when
 * one is given), not by their history.  Whether the outcome came after the
 * window needs no records without an outcome window: the latest outcome
 * event is enough.
 *
 * Behaviour names are interned per state (open addressing on hash_bytes into
 * a string arena), so a row costs one hash and no allocation.  Serialized
 * states carry the names, and deserialize/combine remap the ids.  Windows
 * are fixed lengths in microseconds (months of 30 days, days of 24 hours, as
 * in window_funnel), so timestamp and timestamptz behave alike and no time
 * zone is involved.
 *
 * src/drivers.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/int.h"
#include "event_buffer.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(apivalue_behavior_counts_accum);
PG_FUNCTION_INFO_V1(apivalue_behavior_counts_final);
PG_FUNCTION_INFO_V1(apivalue_driver_features_accum);
PG_FUNCTION_INFO_V1(apivalue_driver_features_final);
PG_FUNCTION_INFO_V1(apivalue_driver_features_combine);
PG_FUNCTION_INFO_V1(apivalue_driver_features_serialize);
PG_FUNCTION_INFO_V1(apivalue_driver_features_deserialize);

/* signal bits of a record */
#define DRV_BEH		0x01		/* aux is a behaviour id */
#define DRV_OUT		0x02		/* outcome held (kept only with an outcome window) */
#define DRV_ERR		0x04		/* server error */
#define DRV_LAT		0x08		/* latency known */
#define DRV_SLOW	0x10		/* latency above the threshold */

#define DRV_MODE_COUNTS		1
#define DRV_MODE_FEATURES	2

#define DRV_SERIAL_VERSION	1

/* index capacity limit: 2^27 slots (512 MB), so at most 2^26 names */
#define DRV_MAX_INDEX		(1 << 27)

/* Options of one aggregate call; every row of a group must agree. */
typedef struct DrvParams
{
	int64		obs_usec;		/* observation window, > 0 */
	int64		ow_usec;		/* outcome window, > 0, or -1 for none */
	int64		as_of;			/* rows at or after it are ignored; INT64_MAX: none */
	double		latency_threshold;	/* when has_latency */
	int32		min_times;		/* >= 1 */
	int32		error_threshold;	/* >= 1, or 0 for no error signal */
	uint8		mode;
	bool		exclude_early;
	bool		has_latency;
} DrvParams;

typedef struct DrvName
{
	uint32		hash;
	uint32		len;
	uint32		off;			/* into the arena */
} DrvName;

typedef struct DrvState
{
	DrvParams	p;
	int64		first_ts;		/* INT64_MAX until a row arrives */
	int64		min_outcome;	/* INT64_MAX: no outcome event */
	int64		max_outcome;	/* INT64_MIN: no outcome event */
	AvEventBuffer ev;
	DrvName    *names;
	int32		nnames;
	int32		names_cap;
	int32	   *index;			/* name id + 1, 0 = empty slot */
	int32		index_cap;		/* power of two */
	char	   *arena;
	uint32		arena_len;
	uint32		arena_cap;
} DrvState;

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------
 */

static inline int64
sat_add(int64 a, int64 b)
{
	int64		r;

	if (pg_add_s64_overflow(a, b, &r))
		return b > 0 ? PG_INT64_MAX : PG_INT64_MIN;
	return r;
}

static char *
interval_text(Interval *iv)
{
	return DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(iv)));
}

/* A positive window length in microseconds. */
static int64
window_arg(Interval *iv, const char *what)
{
	int64		usec;

	/* the sign as interval_cmp sees it (30-day months, 24-hour days) */
	if (((int128) iv->month * DAYS_PER_MONTH + iv->day) * USECS_PER_DAY + iv->time <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive: \"%s\"", what, interval_text(iv)),
				 errhint("Give a positive interval such as '7 days'.")));
	usec = av_window_usec(iv, what);
	if (usec <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive: \"%s\"", what, interval_text(iv)),
				 errhint("Give a positive interval such as '7 days'.")));
	return usec;
}

static bool
params_equal(const DrvParams *a, const DrvParams *b)
{
	return a->obs_usec == b->obs_usec &&
		a->ow_usec == b->ow_usec &&
		a->as_of == b->as_of &&
		a->min_times == b->min_times &&
		a->error_threshold == b->error_threshold &&
		a->mode == b->mode &&
		a->exclude_early == b->exclude_early &&
		a->has_latency == b->has_latency &&
		(!a->has_latency || a->latency_threshold == b->latency_threshold);
}

static void
params_must_match(const DrvParams *a, const DrvParams *b)
{
	if (!params_equal(a, b))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the options of apivalue.%s must be the same for all rows",
						a->mode == DRV_MODE_COUNTS ? "behavior_counts" : "driver_features"),
				 errhint("Pass constants for observation, outcome_window, thresholds and as_of.")));
}

static DrvState *
drv_new(const DrvParams *p)
{
	DrvState   *s = palloc0(sizeof(DrvState));

	s->p = *p;
	s->first_ts = PG_INT64_MAX;
	s->min_outcome = PG_INT64_MAX;
	s->max_outcome = PG_INT64_MIN;
	av_events_init(&s->ev);
	return s;
}

/* ------------------------------------------------------------------------
 * Behaviour names
 * ------------------------------------------------------------------------
 */

static void
drv_index_rebuild(DrvState *s, int32 cap)
{
	int32		mask = cap - 1;
	int32		i;

	if (s->index)
		pfree(s->index);
	s->index = palloc0(sizeof(int32) * cap);
	s->index_cap = cap;
	for (i = 0; i < s->nnames; i++)
	{
		int32		slot = s->names[i].hash & mask;

		while (s->index[slot] != 0)
			slot = (slot + 1) & mask;
		s->index[slot] = i + 1;
	}
}

/* The id of a name, adding it when new (in the current memory context). */
static uint32
drv_intern(DrvState *s, const char *data, int len)
{
	uint32		h = hash_bytes((const unsigned char *) data, len);
	int32		mask;
	int32		slot;
	DrvName    *nm;

	if (s->index == NULL)
	{
		s->names_cap = 4;
		s->names = palloc(sizeof(DrvName) * s->names_cap);
		s->arena_cap = 64;
		s->arena = palloc(s->arena_cap);
		drv_index_rebuild(s, 8);
	}
	mask = s->index_cap - 1;
	slot = h & mask;
	while (s->index[slot] != 0)
	{
		nm = &s->names[s->index[slot] - 1];
		if (nm->hash == h && nm->len == (uint32) len &&
			memcmp(s->arena + nm->off, data, len) == 0)
			return s->index[slot] - 1;
		slot = (slot + 1) & mask;
	}

	/* new name: keep the index at most half full */
	if ((s->nnames + 1) * 2 > s->index_cap)
	{
		if (s->index_cap >= DRV_MAX_INDEX)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many distinct behaviours for one user: %d", s->nnames),
					 errhint("Normalize the behaviour column (normalize_behaviors => true) or group it more coarsely.")));
		drv_index_rebuild(s, s->index_cap * 2);
		mask = s->index_cap - 1;
		slot = h & mask;
		while (s->index[slot] != 0)
			slot = (slot + 1) & mask;
	}
	if (s->nnames == s->names_cap)
	{
		s->names_cap *= 2;
		s->names = repalloc(s->names, sizeof(DrvName) * s->names_cap);
	}
	if ((Size) s->arena_len + len > s->arena_cap)
	{
		Size		cap = Max((Size) s->arena_cap * 2, (Size) s->arena_len + len);

		if (cap > MaxAllocSize)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("behaviour names of one user exceed %zu bytes", (Size) MaxAllocSize)));
		s->arena = repalloc(s->arena, cap);
		s->arena_cap = (uint32) cap;
	}
	memcpy(s->arena + s->arena_len, data, len);
	nm = &s->names[s->nnames];
	nm->hash = h;
	nm->len = len;
	nm->off = s->arena_len;
	s->arena_len += len;
	s->index[slot] = s->nnames + 1;
	return s->nnames++;
}

/* ------------------------------------------------------------------------
 * Records
 * ------------------------------------------------------------------------
 */

/* Can a record still fall into the final window, given the current first event? */
static inline bool
drv_keep(const DrvState *s, int64 ts, uint32 bits)
{
	int64		obs_end = sat_add(s->first_ts, s->p.obs_usec);

	if (ts < obs_end)
		return true;
	return (bits & DRV_OUT) != 0 && ts < sat_add(obs_end, s->p.ow_usec);
}

static void
drv_prune(DrvState *s)
{
	int64		i,
				j = 0;

	for (i = 0; i < s->ev.nevents; i++)
	{
		AvEvent    *e = &s->ev.events[i];

		if (drv_keep(s, e->ts, e->bits))
			s->ev.events[j++] = *e;
	}
	s->ev.nevents = j;
}

/*
 * Append a record.  A full buffer is pruned first and doubled only when that
 * freed less than half of it, so appends stay amortized O(1).
 */
static void
drv_append(DrvState *s, int64 ts, uint32 bits, uint32 aux)
{
	if (s->ev.nevents >= s->ev.capacity && s->ev.capacity > 0)
	{
		drv_prune(s);
		if (s->ev.nevents > s->ev.capacity / 2)
			av_events_grow(&s->ev, s->ev.capacity + 1);
	}
	av_events_append(&s->ev, ts, bits, aux);
}

static void
drv_note_first(DrvState *s, int64 ts)
{
	if (ts < s->first_ts)
		s->first_ts = ts;
}

/* ------------------------------------------------------------------------
 * Transition functions
 * ------------------------------------------------------------------------
 */

static MemoryContext
agg_context(FunctionCallInfo fcinfo, const char *fname)
{
	MemoryContext aggctx;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s called in non-aggregate context", fname)));
	return aggctx;
}

/*
 * apivalue.behavior_counts(ts, behavior text, observation interval)
 * transition: the first event, and the behaviour rows that may fall in the
 * window.  Rows with a NULL timestamp are skipped; rows with a NULL
 * behaviour still count as events (they can be the first one).
 */
Datum
apivalue_behavior_counts_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "behavior_counts");
	MemoryContext old;
	DrvState   *s = PG_ARGISNULL(0) ? NULL : (DrvState *) PG_GETARG_POINTER(0);
	DrvParams	p;
	int64		ts;

	if (PG_ARGISNULL(1))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("observation must not be NULL")));
	memset(&p, 0, sizeof(p));
	p.mode = DRV_MODE_COUNTS;
	p.obs_usec = window_arg(PG_GETARG_INTERVAL_P(3), "observation");
	p.ow_usec = -1;
	p.as_of = PG_INT64_MAX;
	p.min_times = 1;

	ts = av_timestamp_arg(PG_GETARG_TIMESTAMP(1));

	old = MemoryContextSwitchTo(aggctx);
	if (s == NULL)
		s = drv_new(&p);
	else
		params_must_match(&s->p, &p);
	drv_note_first(s, ts);
	if (!PG_ARGISNULL(2) && drv_keep(s, ts, DRV_BEH))
	{
		text	   *b = PG_GETARG_TEXT_PP(2);

		drv_append(s, ts, DRV_BEH,
				   drv_intern(s, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b)));
	}
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(s);
}

/*
 * apivalue.driver_features(ts, behavior text, outcome boolean,
 *		server_error boolean, latency_ms float8, observation interval,
 *		outcome_window interval, min_times integer, error_threshold integer,
 *		latency_threshold_ms float8, exclude_early_outcome boolean,
 *		as_of timestamp[tz]) transition.
 *
 * Arguments 6..12 are options (constant per call); NULL error_threshold or
 * latency_threshold_ms turn that signal off, NULL outcome_window means "any
 * time after the window", NULL as_of means no cut-off.
 */
Datum
apivalue_driver_features_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "driver_features");
	MemoryContext old;
	DrvState   *s = PG_ARGISNULL(0) ? NULL : (DrvState *) PG_GETARG_POINTER(0);
	DrvParams	p;
	int64		ts;
	uint32		bits = 0;
	uint32		aux = 0;

	if (PG_ARGISNULL(1))
	{
		if (s == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s);
	}

	memset(&p, 0, sizeof(p));
	p.mode = DRV_MODE_FEATURES;
	if (PG_ARGISNULL(6))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("observation must not be NULL")));
	p.obs_usec = window_arg(PG_GETARG_INTERVAL_P(6), "observation");
	p.ow_usec = PG_ARGISNULL(7) ? -1 : window_arg(PG_GETARG_INTERVAL_P(7), "outcome_window");
	if (PG_ARGISNULL(8))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("min_times must not be NULL")));
	p.min_times = PG_GETARG_INT32(8);
	if (p.min_times < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_times must be at least 1: %d", p.min_times)));
	p.error_threshold = PG_ARGISNULL(9) ? 0 : PG_GETARG_INT32(9);
	if (!PG_ARGISNULL(9) && p.error_threshold < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("error_threshold must be at least 1: %d", p.error_threshold)));
	p.has_latency = !PG_ARGISNULL(10);
	if (p.has_latency)
	{
		p.latency_threshold = PG_GETARG_FLOAT8(10);
		if (isnan(p.latency_threshold) || isinf(p.latency_threshold))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("latency_threshold_ms must be a finite number: %g",
							p.latency_threshold)));
	}
	p.exclude_early = !PG_ARGISNULL(11) && PG_GETARG_BOOL(11);
	p.as_of = PG_ARGISNULL(12) ? PG_INT64_MAX : av_timestamp_arg(PG_GETARG_TIMESTAMP(12));

	ts = av_timestamp_arg(PG_GETARG_TIMESTAMP(1));

	old = MemoryContextSwitchTo(aggctx);
	if (s == NULL)
		s = drv_new(&p);
	else
		params_must_match(&s->p, &p);

	if (ts >= s->p.as_of)
	{
		/* after the cut-off: as if the row did not exist */
		MemoryContextSwitchTo(old);
		PG_RETURN_POINTER(s);
	}
	drv_note_first(s, ts);

	if (!PG_ARGISNULL(3) && PG_GETARG_BOOL(3))
	{
		if (ts < s->min_outcome)
			s->min_outcome = ts;
		if (ts > s->max_outcome)
			s->max_outcome = ts;
		if (s->p.ow_usec >= 0)
			bits |= DRV_OUT;
	}

	/* behaviour and experience only matter inside the (running) window */
	if (ts < sat_add(s->first_ts, s->p.obs_usec))
	{
		if (!PG_ARGISNULL(4) && PG_GETARG_BOOL(4) && s->p.error_threshold > 0)
			bits |= DRV_ERR;
		if (s->p.has_latency && !PG_ARGISNULL(5))
		{
			double		lat = PG_GETARG_FLOAT8(5);

			bits |= DRV_LAT;
			/* NaN sorts above every number in PostgreSQL */
			if (isnan(lat) || lat > s->p.latency_threshold)
				bits |= DRV_SLOW;
		}
		if (!PG_ARGISNULL(2))
		{
			text	   *b = PG_GETARG_TEXT_PP(2);

			bits |= DRV_BEH;
			aux = drv_intern(s, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
		}
	}

	if (bits != 0 && drv_keep(s, ts, bits))
		drv_append(s, ts, bits, aux);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(s);
}

/* ------------------------------------------------------------------------
 * Combine, serialize, deserialize
 * ------------------------------------------------------------------------
 */

/*
 * Add src's first event, outcome times, names and records to dst (in the
 * current memory context).  Records are re-filtered against the merged
 * first event.
 */
static void
drv_merge(DrvState *dst, const DrvState *src)
{
	uint32	   *map = NULL;
	int64		i;
	int32		k;

	drv_note_first(dst, src->first_ts);
	if (src->min_outcome < dst->min_outcome)
		dst->min_outcome = src->min_outcome;
	if (src->max_outcome > dst->max_outcome)
		dst->max_outcome = src->max_outcome;
	drv_prune(dst);

	if (src->nnames > 0)
	{
		map = palloc(sizeof(uint32) * src->nnames);
		for (k = 0; k < src->nnames; k++)
			map[k] = drv_intern(dst, src->arena + src->names[k].off, src->names[k].len);
	}
	for (i = 0; i < src->ev.nevents; i++)
	{
		const AvEvent *e = &src->ev.events[i];

		if (drv_keep(dst, e->ts, e->bits))
			drv_append(dst, e->ts, e->bits,
					   (e->bits & DRV_BEH) ? map[e->aux] : 0);
	}
	if (map)
		pfree(map);
}

Datum
apivalue_driver_features_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "driver_features_combine");
	MemoryContext old;
	DrvState   *s1 = PG_ARGISNULL(0) ? NULL : (DrvState *) PG_GETARG_POINTER(0);
	DrvState   *s2 = PG_ARGISNULL(1) ? NULL : (DrvState *) PG_GETARG_POINTER(1);

	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	old = MemoryContextSwitchTo(aggctx);
	if (s1 == NULL)
		s1 = drv_new(&s2->p);
	else
		params_must_match(&s1->p, &s2->p);
	drv_merge(s1, s2);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(s1);
}

/*
 * Serialized form (native byte order, as parallel workers and the leader
 * share a machine):
 *		uint8 version, uint8 mode, uint8 exclude_early, uint8 has_latency,
 *		int64 obs_usec, ow_usec, as_of, float8 latency_threshold,
 *		int32 min_times, error_threshold,
 *		int64 first_ts, min_outcome, max_outcome,
 *		int32 nnames, then per name int32 length and bytes,
 *		then the records (event_buffer form).
 * Records already outside the window are pruned first.
 */
#define DRV_PUT(p, v) (memcpy((p), &(v), sizeof(v)), (p) += sizeof(v))

Datum
apivalue_driver_features_serialize(PG_FUNCTION_ARGS)
{
	DrvState   *s = (DrvState *) PG_GETARG_POINTER(0);
	Size		size;
	bytea	   *out;
	char	   *p;
	uint8		hdr[4];
	int32		k;

	(void) agg_context(fcinfo, "driver_features_serialize");
	drv_prune(s);

	size = VARHDRSZ + sizeof(hdr) + 3 * sizeof(int64) + sizeof(double) +
		2 * sizeof(int32) + 3 * sizeof(int64) + sizeof(int32) +
		(Size) s->nnames * sizeof(int32) + s->arena_len +
		av_events_serialized_size(&s->ev);
	out = palloc(size);
	SET_VARSIZE(out, size);
	p = VARDATA(out);

	hdr[0] = DRV_SERIAL_VERSION;
	hdr[1] = s->p.mode;
	hdr[2] = s->p.exclude_early ? 1 : 0;
	hdr[3] = s->p.has_latency ? 1 : 0;
	memcpy(p, hdr, sizeof(hdr));
	p += sizeof(hdr);
	DRV_PUT(p, s->p.obs_usec);
	DRV_PUT(p, s->p.ow_usec);
	DRV_PUT(p, s->p.as_of);
	DRV_PUT(p, s->p.latency_threshold);
	DRV_PUT(p, s->p.min_times);
	DRV_PUT(p, s->p.error_threshold);
	DRV_PUT(p, s->first_ts);
	DRV_PUT(p, s->min_outcome);
	DRV_PUT(p, s->max_outcome);
	DRV_PUT(p, s->nnames);
	for (k = 0; k < s->nnames; k++)
	{
		int32		len = (int32) s->names[k].len;

		DRV_PUT(p, len);
		memcpy(p, s->arena + s->names[k].off, len);
		p += len;
	}
	p = av_events_serialize(&s->ev, p);
	Assert(p == (char *) out + size);

	PG_RETURN_BYTEA_P(out);
}

static void
bad_state(const char *why)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid apivalue driver_features state: %s", why)));
}

static const char *
drv_get(const char *p, const char *end, void *dst, Size n)
{
	if ((Size) (end - p) < n)
		bad_state("truncated");
	memcpy(dst, p, n);
	return p + n;
}

Datum
apivalue_driver_features_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx = agg_context(fcinfo, "driver_features_deserialize");
	MemoryContext old;
	bytea	   *in = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(in);
	const char *end = p + VARSIZE_ANY_EXHDR(in);
	uint8		hdr[4];
	DrvParams	prm;
	DrvState   *s;
	int32		nnames;
	uint32	   *map = NULL;
	int32		k;
	int64		i;

	memset(&prm, 0, sizeof(prm));
	p = drv_get(p, end, hdr, sizeof(hdr));
	if (hdr[0] != DRV_SERIAL_VERSION)
		bad_state("unknown version");
	if (hdr[1] != DRV_MODE_COUNTS && hdr[1] != DRV_MODE_FEATURES)
		bad_state("unknown mode");
	prm.mode = hdr[1];
	prm.exclude_early = hdr[2] != 0;
	prm.has_latency = hdr[3] != 0;
	p = drv_get(p, end, &prm.obs_usec, sizeof(int64));
	p = drv_get(p, end, &prm.ow_usec, sizeof(int64));
	p = drv_get(p, end, &prm.as_of, sizeof(int64));
	p = drv_get(p, end, &prm.latency_threshold, sizeof(double));
	p = drv_get(p, end, &prm.min_times, sizeof(int32));
	p = drv_get(p, end, &prm.error_threshold, sizeof(int32));
	if (prm.obs_usec <= 0 || prm.ow_usec < -1 || prm.ow_usec == 0 ||
		prm.min_times < 1 || prm.error_threshold < 0)
		bad_state("invalid options");

	old = MemoryContextSwitchTo(aggctx);
	s = drv_new(&prm);
	p = drv_get(p, end, &s->first_ts, sizeof(int64));
	p = drv_get(p, end, &s->min_outcome, sizeof(int64));
	p = drv_get(p, end, &s->max_outcome, sizeof(int64));
	p = drv_get(p, end, &nnames, sizeof(int32));
	if (nnames < 0 || (Size) nnames > (Size) (end - p) / sizeof(int32))
		bad_state("name count exceeds the data");
	if (nnames > 0)
		map = palloc(sizeof(uint32) * nnames);
	for (k = 0; k < nnames; k++)
	{
		int32		len;

		p = drv_get(p, end, &len, sizeof(int32));
		if (len < 0 || len > end - p)
			bad_state("name length exceeds the data");
		/* interning also collapses duplicate names of a forged state */
		map[k] = drv_intern(s, p, len);
		p += len;
	}
	{
		AvEventBuffer raw;

		av_events_init(&raw);
		p = av_events_deserialize(&raw, p, end);
		if (p != end)
			bad_state("trailing bytes");
		for (i = 0; i < raw.nevents; i++)
		{
			AvEvent    *e = &raw.events[i];

			if (e->bits & DRV_BEH)
			{
				if (e->aux >= (uint32) nnames)
					bad_state("behaviour id out of range");
				e->aux = map[e->aux];
			}
			if (s->first_ts == PG_INT64_MAX || e->ts < s->first_ts)
				bad_state("record before the first event");
			drv_append(s, e->ts, e->bits, e->aux);
		}
		if (raw.events)
			pfree(raw.events);
	}
	if (map)
		pfree(map);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(s);
}

/* ------------------------------------------------------------------------
 * Final functions
 * ------------------------------------------------------------------------
 */

/* Events per behaviour id within [first, first + observation). */
static int64 *
drv_window_counts(const DrvState *s, int64 obs_end,
				  int64 *errors, int64 *lat_n, int64 *slow_n)
{
	int64	   *counts = palloc0(sizeof(int64) * Max(s->nnames, 1));
	int64		i;

	*errors = *lat_n = *slow_n = 0;
	for (i = 0; i < s->ev.nevents; i++)
	{
		const AvEvent *e = &s->ev.events[i];

		if (e->ts >= obs_end)
			continue;
		if (e->bits & DRV_BEH)
			counts[e->aux]++;
		if (e->bits & DRV_ERR)
			(*errors)++;
		if (e->bits & DRV_LAT)
			(*lat_n)++;
		if (e->bits & DRV_SLOW)
			(*slow_n)++;
	}
	return counts;
}

static int
name_cmp(const void *a, const void *b, void *arg)
{
	const DrvState *s = (const DrvState *) arg;
	const DrvName *x = &s->names[*(const int32 *) a];
	const DrvName *y = &s->names[*(const int32 *) b];
	int			r = memcmp(s->arena + x->off, s->arena + y->off, Min(x->len, y->len));

	if (r != 0)
		return r;
	return (x->len > y->len) - (x->len < y->len);
}

/*
 * apivalue.behavior_counts final: {behavior: events in the window}; an empty
 * object when the user has no behaviour in it, NULL for a group without rows.
 */
Datum
apivalue_behavior_counts_final(PG_FUNCTION_ARGS)
{
	DrvState   *s = PG_ARGISNULL(0) ? NULL : (DrvState *) PG_GETARG_POINTER(0);
	JsonbParseState *js = NULL;
	JsonbValue *res;
	int64	   *counts;
	int64		errors,
				lat_n,
				slow_n;
	int32		k;

	if (s == NULL || s->first_ts == PG_INT64_MAX)
		PG_RETURN_NULL();
	counts = drv_window_counts(s, sat_add(s->first_ts, s->p.obs_usec),
							   &errors, &lat_n, &slow_n);
	pushJsonbValue(&js, WJB_BEGIN_OBJECT, NULL);
	for (k = 0; k < s->nnames; k++)
	{
		JsonbValue	key,
					val;

		if (counts[k] == 0)
			continue;
		key.type = jbvString;
		key.val.string.len = s->names[k].len;
		key.val.string.val = s->arena + s->names[k].off;
		val.type = jbvNumeric;
		val.val.numeric = int64_to_numeric(counts[k]);
		pushJsonbValue(&js, WJB_KEY, &key);
		pushJsonbValue(&js, WJB_VALUE, &val);
	}
	res = pushJsonbValue(&js, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}

/*
 * apivalue.driver_features final: (behaviors text[], server_errors boolean,
 * slow boolean, outcome boolean) for a user who counts, NULL for one who
 * does not:
 *	 - behaviors: behaviours done at least min_times times in
 *	   [first, first + observation), in byte order;
 *	 - server_errors: at least error_threshold server errors in the window
 *	   (NULL when that signal is off);
 *	 - slow: the 95th percentile (percentile_disc) of the latencies in the
 *	   window is above the threshold, i.e. fewer than ceil(0.95 n) of the n
 *	   latencies are at or below it; false without latencies (NULL when off);
 *	 - outcome: an outcome event at or after first + observation (and before
 *	   first + observation + outcome_window when given).
 * A user is left out (NULL) when as_of cuts the window (or the outcome
 * window) short, or, with exclude_early_outcome, when the outcome already
 * held inside the observation window.
 */
Datum
apivalue_driver_features_final(PG_FUNCTION_ARGS)
{
	DrvState   *s = PG_ARGISNULL(0) ? NULL : (DrvState *) PG_GETARG_POINTER(0);
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	int64		obs_end,
				out_end;
	int64	   *counts;
	int64		errors,
				lat_n,
				slow_n;
	int32	   *ids;
	int32		nids = 0;
	int32		k;
	Datum	   *elems;
	bool		outcome = false;

	if (s == NULL || s->first_ts == PG_INT64_MAX)
		PG_RETURN_NULL();
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record")));
	tupdesc = BlessTupleDesc(tupdesc);

	obs_end = sat_add(s->first_ts, s->p.obs_usec);
	out_end = s->p.ow_usec >= 0 ? sat_add(obs_end, s->p.ow_usec) : PG_INT64_MAX;

	/* censored: the data end before the user's windows do */
	if (s->p.as_of != PG_INT64_MAX &&
		(s->p.ow_usec >= 0 ? out_end : obs_end) > s->p.as_of)
		PG_RETURN_NULL();
	if (s->p.exclude_early && s->min_outcome < obs_end)
		PG_RETURN_NULL();

	if (s->p.ow_usec < 0)
		outcome = s->max_outcome >= obs_end;
	else
	{
		int64		i;

		for (i = 0; i < s->ev.nevents && !outcome; i++)
		{
			const AvEvent *e = &s->ev.events[i];

			if ((e->bits & DRV_OUT) && e->ts >= obs_end && e->ts < out_end)
				outcome = true;
		}
	}

	counts = drv_window_counts(s, obs_end, &errors, &lat_n, &slow_n);
	ids = palloc(sizeof(int32) * Max(s->nnames, 1));
	for (k = 0; k < s->nnames; k++)
		if (counts[k] >= s->p.min_times)
			ids[nids++] = k;
	qsort_arg(ids, nids, sizeof(int32), name_cmp, s);
	elems = palloc(sizeof(Datum) * Max(nids, 1));
	for (k = 0; k < nids; k++)
	{
		const DrvName *nm = &s->names[ids[k]];

		elems[k] = PointerGetDatum(cstring_to_text_with_len(s->arena + nm->off, nm->len));
	}
	values[0] = PointerGetDatum(construct_array(elems, nids, TEXTOID, -1, false, TYPALIGN_INT));

	if (s->p.error_threshold > 0)
		values[1] = BoolGetDatum(errors >= s->p.error_threshold);
	else
		nulls[1] = true;

	if (s->p.has_latency)
	{
		/* the row percentile_disc(0.95) picks, computed as PostgreSQL does */
		int64		rownum = (int64) ceil(0.95 * (double) lat_n);

		values[2] = BoolGetDatum(lat_n > 0 && lat_n - slow_n < rownum);
	}
	else
		nulls[2] = true;
	values[3] = BoolGetDatum(outcome);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
