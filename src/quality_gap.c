/*-------------------------------------------------------------------------
 *
 * quality_gap.c
 *	  Missing data: sequence-number gaps and dead time, on range sets.
 *
 * Both detectors ask "where are the holes": between the sequence numbers a
 * device sent, or between events more than max_gap apart.  The state is a
 * range set (see quality_gap.h): sorted disjoint ranges plus a buffer of raw
 * values not merged yet, in one varlena (the working form, quality_common.h).
 * A row appends to the buffer in place (no palloc); when the state is full
 * the buffer is sorted once and merged into the ranges, and the state
 * doubles only when the ranges fill more than half of it, so a healthy
 * device (a contiguous counter, a steady heartbeat) costs a single range
 * and a state of 64 to a few hundred bytes however many rows it has.
 * Combining two states is a merge of two sorted range lists: exact,
 * whatever the split of the rows.
 *
 * Cost: O(n log b) time for n rows with buffer size b (at most the state's
 * capacity), memory O(ranges).
 *
 * src/quality_gap.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/multirangetypes.h"
#include "utils/rangetypes.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "quality_common.h"
#include "quality_gap.h"

typedef struct RangeSetFlat
{
	int32		vl_len_;
	uint8		version;
	uint8		kind;
	uint16		unused;
	int32		nranges;
	int64		join;
	int64		rows;
	int64		ranges[FLEXIBLE_ARRAY_MEMBER];
} RangeSetFlat;

#define RANGESET_HDRSZ offsetof(RangeSetFlat, ranges)

/*
 * Working form (during aggregation; see quality_common.h): the flat header,
 * then the ranges followed by raw values not merged yet, then free room up
 * to the varlena size.
 */
typedef struct RangeSetWork
{
	int32		vl_len_;		/* the capacity, not the content */
	uint8		version;		/* QUALITY_WORK_RANGESET */
	uint8		kind;
	uint16		unused;
	int32		nranges;
	int64		join;
	int64		rows;
	int32		nbuf;			/* raw values after the ranges */
	int32		unused2;
	int64		data[FLEXIBLE_ARRAY_MEMBER];	/* ranges[2 * nranges], buf[nbuf] */
} RangeSetWork;

#define RANGESET_WORK_HDRSZ offsetof(RangeSetWork, data)
#define RANGESET_WORK_CAP(w) \
	((int64) ((VARSIZE(w) - RANGESET_WORK_HDRSZ) / sizeof(int64)))
#define RANGESET_WORK_USED(w) (2 * (int64) (w)->nranges + (w)->nbuf)

static const char *
kind_type_name(uint8 kind)
{
	return kind == RANGESET_KIND_SEQUENCE ? "apivalue.sequence_summary"
		: "apivalue.dead_time_summary";
}

static int
cmp_int64(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return (x > y) - (x < y);
}

/* True when a value at lo belongs to the range ending at hi. */
static inline bool
joins(int64 hi, int64 lo, int64 join)
{
	/* Unsigned difference: no overflow across the whole int64 domain. */
	return lo <= hi || (uint64) lo - (uint64) hi <= (uint64) join;
}

/*
 * Merge sorted ranges a (na pairs) with sorted items b (nb items, each a
 * pair when b_pairs, a single value otherwise) into out, coalescing ranges
 * that join.  out must hold 2 * (na + nb) values; returns the pairs written.
 */
static int32
merge_ranges(const int64 *a, int32 na, const int64 *b, int32 nb, bool b_pairs,
			 int64 join, int64 *out)
{
	int32		i = 0,
				j = 0,
				n = 0;

	while (i < na || j < nb)
	{
		int64		lo,
					hi;

		if (j >= nb || (i < na && a[2 * i] <= (b_pairs ? b[2 * j] : b[j])))
		{
			lo = a[2 * i];
			hi = a[2 * i + 1];
			i++;
		}
		else
		{
			lo = b_pairs ? b[2 * j] : b[j];
			hi = b_pairs ? b[2 * j + 1] : b[j];
			j++;
		}
		if (n > 0 && joins(out[2 * n - 1], lo, join))
		{
			if (hi > out[2 * n - 1])
				out[2 * n - 1] = hi;
		}
		else
		{
			out[2 * n] = lo;
			out[2 * n + 1] = hi;
			n++;
		}
	}
	return n;
}

/*
 * A new, empty working state with room for at least nvalues int64 values
 * (want: as many as fit below 1 GB, up to want), in the current memory
 * context.
 */
static RangeSetWork *
rangeset_work_new(uint8 kind, int64 join, int64 nvalues, int64 want)
{
	RangeSetWork *w;

	w = (RangeSetWork *) quality_work_alloc(RANGESET_WORK_HDRSZ +
											sizeof(int64) * (Size) Max(nvalues, 0),
											RANGESET_WORK_HDRSZ +
											sizeof(int64) * (Size) Max(want, 0),
											QUALITY_WORK_RANGESET,
											kind_type_name(kind));
	w->kind = kind;
	w->join = join;
	return w;
}

/*
 * Sort the raw values of w and merge them with its ranges into a new array
 * (current memory context); returns the pairs, *n their count.  The buffer
 * of w is sorted in place (same content) when it is the caller's own state,
 * a copy of it otherwise.
 */
static int64 *
rangeset_work_merged(RangeSetWork *w, int32 *n, bool own)
{
	int64	   *buf = w->data + 2 * (Size) w->nranges;
	int64	   *out;

	if (!own && w->nbuf > 1)
	{
		int64	   *copy = palloc(sizeof(int64) * (Size) w->nbuf);

		memcpy(copy, buf, sizeof(int64) * (Size) w->nbuf);
		buf = copy;
	}
	qsort(buf, w->nbuf, sizeof(int64), cmp_int64);
	out = palloc(sizeof(int64) * 2 * ((Size) w->nranges + w->nbuf));
	*n = merge_ranges(w->data, w->nranges, buf, w->nbuf, false, w->join, out);
	if (buf != w->data + 2 * (Size) w->nranges)
		pfree(buf);
	return out;
}

/*
 * w with room for one more value: the raw values merged into the ranges,
 * and, when the ranges then fill more than half of it, a copy twice as
 * large as they need (current memory context; the caller returns it and the
 * executor adopts it).  Each merge thus handles about as many new values as
 * there are ranges, and the state stays O(ranges).
 */
static RangeSetWork *
rangeset_work_make_room(RangeSetWork *w)
{
	int64	   *ranges = w->data;
	int32		n = w->nranges;
	RangeSetWork *nw;

	if (w->nbuf > 0)
		ranges = rangeset_work_merged(w, &n, true);
	if (4 * (int64) n + 2 <= RANGESET_WORK_CAP(w))
		nw = w;
	else
	{
		nw = rangeset_work_new(w->kind, w->join, 2 * (int64) n + 1,
							   4 * (int64) n + 2);
		nw->rows = w->rows;
	}
	if (ranges != nw->data)
		memcpy(nw->data, ranges, sizeof(int64) * 2 * (Size) n);
	if (ranges != w->data)
		pfree(ranges);
	nw->nranges = n;
	nw->nbuf = 0;
	return nw;
}

/*
 * Check a flat range set: header, count against size, kind, and that the
 * ranges are sorted, disjoint and not joinable (the invariant every reader
 * relies on).
 */
static void
rangeset_check_ranges(const int64 *ranges, int32 n, int64 join, uint8 kind)
{
	int32		i;

	for (i = 0; i < n; i++)
	{
		if (ranges[2 * i] > ranges[2 * i + 1] ||
			(i > 0 && joins(ranges[2 * i - 1], ranges[2 * i], join)))
			quality_corrupt(kind_type_name(kind), "ranges are not sorted and disjoint");
	}
}

static const RangeSetFlat *
rangeset_check_flat(struct varlena *v, uint8 kind)
{
	const RangeSetFlat *f = (const RangeSetFlat *) v;
	Size		size = VARSIZE(v);

	if (size < RANGESET_HDRSZ)
		quality_corrupt(kind_type_name(kind), "value is too short");
	if (f->version != QUALITY_STATE_VERSION)
		quality_corrupt(kind_type_name(kind), psprintf("unknown version %d", f->version));
	if (f->kind != kind)
		quality_corrupt(kind_type_name(kind), "value is a summary of another kind");
	if (f->nranges < 0 ||
		(Size) f->nranges > (size - RANGESET_HDRSZ) / (2 * sizeof(int64)) ||
		size != RANGESET_HDRSZ + (Size) f->nranges * 2 * sizeof(int64))
		quality_corrupt(kind_type_name(kind), "range count does not match the size");
	if (f->join < 0 || (kind == RANGESET_KIND_SEQUENCE && f->join != 1))
		quality_corrupt(kind_type_name(kind), "invalid join distance");
	if (f->rows < 0)
		quality_corrupt(kind_type_name(kind), "negative row count");
	rangeset_check_ranges(f->ranges, f->nranges, f->join, kind);
	return f;
}

/*
 * Check a working state that did not come from this call (a partial
 * aggregate's transition value from a parallel worker): the same checks,
 * with the counts bounded by the capacity.
 */
static RangeSetWork *
rangeset_check_work(struct varlena *v, uint8 kind)
{
	RangeSetWork *w = (RangeSetWork *) v;

	if (VARSIZE(v) < RANGESET_WORK_HDRSZ)
		quality_corrupt(kind_type_name(kind), "value is too short");
	if (w->kind != kind)
		quality_corrupt(kind_type_name(kind), "value is a summary of another kind");
	if (w->nranges < 0 || w->nbuf < 0 ||
		RANGESET_WORK_USED(w) > RANGESET_WORK_CAP(w))
		quality_corrupt(kind_type_name(kind), "range count does not match the size");
	if (w->join < 0 || (kind == RANGESET_KIND_SEQUENCE && w->join != 1))
		quality_corrupt(kind_type_name(kind), "invalid join distance");
	if (w->rows < 0)
		quality_corrupt(kind_type_name(kind), "negative row count");
	rangeset_check_ranges(w->data, w->nranges, w->join, kind);
	return w;
}

/*
 * Fill *view from a range set datum: flat (checked), or working, whose raw
 * values are then merged into a copy (read paths never modify a value: a
 * final function's argument may be finalized again, and a value could
 * come straight from a table).
 */
void
rangeset_view(Datum d, uint8 kind, RangeSetView *view)
{
	struct varlena *v = PG_DETOAST_DATUM(d);

	if (VARSIZE(v) > VARHDRSZ &&
		((uint8 *) VARDATA(v))[0] == QUALITY_WORK_RANGESET)
	{
		RangeSetWork *w = rangeset_check_work(v, kind);

		view->kind = w->kind;
		view->join = w->join;
		view->rows = w->rows;
		if (w->nbuf == 0)
		{
			view->nranges = w->nranges;
			view->ranges = w->data;
		}
		else
		{
			int32		n;

			view->ranges = rangeset_work_merged(w, &n, false);
			view->nranges = n;
		}
	}
	else
	{
		const RangeSetFlat *f = rangeset_check_flat(v, kind);

		view->kind = f->kind;
		view->join = f->join;
		view->rows = f->rows;
		view->nranges = f->nranges;
		view->ranges = f->ranges;
	}
}

/* The flat form of a view, palloc'd. */
static struct varlena *
rangeset_flat_from_view(const RangeSetView *v)
{
	Size		size = RANGESET_HDRSZ + sizeof(int64) * 2 * (Size) v->nranges;
	RangeSetFlat *f = palloc0(size);

	SET_VARSIZE(f, size);
	f->version = QUALITY_STATE_VERSION;
	f->kind = v->kind;
	f->nranges = v->nranges;
	f->join = v->join;
	f->rows = v->rows;
	if (v->nranges > 0)
		memcpy(f->ranges, v->ranges, sizeof(int64) * 2 * (Size) v->nranges);
	return (struct varlena *) f;
}

struct varlena *
rangeset_work_flatten(struct varlena *work)
{
	RangeSetView v;
	uint8		kind = ((RangeSetWork *) work)->kind;

	if (VARSIZE(work) < RANGESET_WORK_HDRSZ)
		quality_corrupt("apivalue.sequence_summary", "value is too short");
	if (kind != RANGESET_KIND_SEQUENCE && kind != RANGESET_KIND_TIME)
		quality_corrupt("apivalue.sequence_summary", "unknown summary kind");
	rangeset_view(PointerGetDatum(work), kind, &v);
	return rangeset_flat_from_view(&v);
}

/*
 * The state of argument argno, ready to be modified in place: the
 * aggregate's working state, or a new one (empty, or holding a flat value
 * given as the state).  A new one is in the current memory context; the
 * caller returns it and the executor copies it into the aggregate context.
 */
static RangeSetWork *
rangeset_for_update(FunctionCallInfo fcinfo, int argno, uint8 kind, int64 join)
{
	RangeSetWork *w;
	RangeSetView v;

	w = (RangeSetWork *) quality_work_arg(fcinfo, argno, QUALITY_WORK_RANGESET);
	if (w)
	{
		if (w->kind != kind)
			quality_corrupt(kind_type_name(kind), "value is a summary of another kind");
		return w;
	}
	if (PG_ARGISNULL(argno))
		return rangeset_work_new(kind, join, 0, 0);
	rangeset_view(PG_GETARG_DATUM(argno), kind, &v);
	w = rangeset_work_new(kind, v.join, 2 * (int64) v.nranges + 1,
						  4 * (int64) v.nranges + 2);
	w->rows = v.rows;
	w->nranges = v.nranges;
	if (v.nranges > 0)
		memcpy(w->data, v.ranges, sizeof(int64) * 2 * (Size) v.nranges);
	return w;
}

static inline RangeSetWork *
rangeset_add(RangeSetWork *w, int64 value)
{
	if (RANGESET_WORK_USED(w) >= RANGESET_WORK_CAP(w))
		w = rangeset_work_make_room(w);
	w->data[RANGESET_WORK_USED(w)] = value;
	w->nbuf++;
	w->rows++;
	return w;
}

/* Merge the ranges of view v into w; returns the state to keep. */
static RangeSetWork *
rangeset_merge(RangeSetWork *w, const RangeSetView *v)
{
	int64	   *out;
	int32		n;

	if (v->join != w->join)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine dead-time summaries with different max_gap values")));
	if (w->nbuf > 0)
		w = rangeset_work_make_room(w);
	w->rows += v->rows;
	if (v->nranges == 0)
		return w;
	out = palloc(sizeof(int64) * 2 * ((Size) w->nranges + v->nranges));
	n = merge_ranges(w->data, w->nranges, v->ranges, v->nranges, true,
					 w->join, out);
	if (2 * (int64) n + 1 > RANGESET_WORK_CAP(w))
	{
		RangeSetWork *nw = rangeset_work_new(w->kind, w->join, 2 * (int64) n + 1,
							   4 * (int64) n + 2);

		nw->rows = w->rows;
		w = nw;
	}
	memcpy(w->data, out, sizeof(int64) * 2 * (Size) n);
	w->nranges = n;
	pfree(out);
	return w;
}

/* ---------- type I/O (hex text, binary as is, both validated) ---------- */

static Datum
rangeset_check_datum(Datum d, uint8 kind)
{
	rangeset_check_flat((struct varlena *) DatumGetPointer(d), kind);
	return d;
}

PG_FUNCTION_INFO_V1(apivalue_sequence_summary_in);
Datum
apivalue_sequence_summary_in(PG_FUNCTION_ARGS)
{
	return rangeset_check_datum(DirectFunctionCall1(byteain, PG_GETARG_DATUM(0)),
								RANGESET_KIND_SEQUENCE);
}

PG_FUNCTION_INFO_V1(apivalue_dead_time_summary_in);
Datum
apivalue_dead_time_summary_in(PG_FUNCTION_ARGS)
{
	return rangeset_check_datum(DirectFunctionCall1(byteain, PG_GETARG_DATUM(0)),
								RANGESET_KIND_TIME);
}

PG_FUNCTION_INFO_V1(apivalue_sequence_summary_recv);
Datum
apivalue_sequence_summary_recv(PG_FUNCTION_ARGS)
{
	return rangeset_check_datum(DirectFunctionCall1(bytearecv, PG_GETARG_DATUM(0)),
								RANGESET_KIND_SEQUENCE);
}

PG_FUNCTION_INFO_V1(apivalue_dead_time_summary_recv);
Datum
apivalue_dead_time_summary_recv(PG_FUNCTION_ARGS)
{
	return rangeset_check_datum(DirectFunctionCall1(bytearecv, PG_GETARG_DATUM(0)),
								RANGESET_KIND_TIME);
}

/* ---------- transition, combine, final ---------- */

/*
 * sequence_summary(seq bigint) transition: append one sequence number.
 */
PG_FUNCTION_INFO_V1(apivalue_sequence_summary_accum);
Datum
apivalue_sequence_summary_accum(PG_FUNCTION_ARGS)
{
	RangeSetWork *w;

	quality_agg_context(fcinfo, "sequence_summary");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	w = rangeset_for_update(fcinfo, 0, RANGESET_KIND_SEQUENCE, 1);
	w = rangeset_add(w, PG_GETARG_INT64(1));
	PG_RETURN_POINTER(w);
}

/*
 * dead_time_summary(ts timestamptz, max_gap interval) transition: append
 * one event time.  max_gap must be the same on every row.
 */
PG_FUNCTION_INFO_V1(apivalue_dead_time_summary_accum);
Datum
apivalue_dead_time_summary_accum(PG_FUNCTION_ARGS)
{
	RangeSetWork *w;
	TimestampTz ts;
	int64		max_gap;

	quality_agg_context(fcinfo, "dead_time");
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_gap must not be NULL"),
				 errhint("Pass the longest silence that is still normal, e.g. interval '5 minutes'.")));
	max_gap = quality_interval_usec(PG_GETARG_INTERVAL_P(2), "max_gap");
	if (max_gap < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_gap must not be negative, got \"%s\"",
						DatumGetCString(DirectFunctionCall1(interval_out,
															PG_GETARG_DATUM(2))))));
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	ts = PG_GETARG_TIMESTAMPTZ(1);
	quality_check_finite(ts, "event time");
	w = rangeset_for_update(fcinfo, 0, RANGESET_KIND_TIME, max_gap);
	if (w->join != max_gap)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_gap must be the same for every row of a group"),
				 errhint("Pass a constant max_gap.")));
	w = rangeset_add(w, ts);
	PG_RETURN_POINTER(w);
}

/*
 * Combine two range sets of the same kind (also the transition function of
 * rollup()).  Never modifies its second argument.
 */
static Datum
rangeset_combine(FunctionCallInfo fcinfo, uint8 kind)
{
	RangeSetWork *w;
	RangeSetView v;

	quality_agg_context(fcinfo, "rollup");
	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	rangeset_view(PG_GETARG_DATUM(1), kind, &v);
	w = rangeset_for_update(fcinfo, 0, kind, v.join);
	w = rangeset_merge(w, &v);
	PG_RETURN_POINTER(w);
}

PG_FUNCTION_INFO_V1(apivalue_sequence_summary_combine);
Datum
apivalue_sequence_summary_combine(PG_FUNCTION_ARGS)
{
	return rangeset_combine(fcinfo, RANGESET_KIND_SEQUENCE);
}

PG_FUNCTION_INFO_V1(apivalue_dead_time_summary_combine);
Datum
apivalue_dead_time_summary_combine(PG_FUNCTION_ARGS)
{
	return rangeset_combine(fcinfo, RANGESET_KIND_TIME);
}

/* Final function of the summary aggregates: the flat summary. */
PG_FUNCTION_INFO_V1(apivalue_rangeset_final);
Datum
apivalue_rangeset_final(PG_FUNCTION_ARGS)
{
	struct varlena *w;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	w = quality_work_arg(fcinfo, 0, QUALITY_WORK_RANGESET);
	if (w)
	{
		RangeSetView v;

		rangeset_view(PointerGetDatum(w), ((RangeSetWork *) w)->kind, &v);
		PG_RETURN_POINTER(rangeset_flat_from_view(&v));
	}
	PG_RETURN_DATUM(PointerGetDatum(PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0))));
}

/* ---------- sequence readings ---------- */

bool
sequence_summary_counts(Datum summary, SequenceGapCounts *c)
{
	RangeSetView v;
	uint64		received = 0;
	uint64		span;
	int32		i;

	memset(c, 0, sizeof(*c));
	rangeset_view(summary, RANGESET_KIND_SEQUENCE, &v);
	c->rows = v.rows;
	if (v.nranges == 0)
		return false;
	for (i = 0; i < v.nranges; i++)
		received += (uint64) v.ranges[2 * i + 1] - (uint64) v.ranges[2 * i] + 1;
	c->min = v.ranges[0];
	c->max = v.ranges[2 * v.nranges - 1];
	span = (uint64) c->max - (uint64) c->min;
	if (span >= (uint64) PG_INT64_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("sequence numbers from %lld to %lld span more than bigint can count",
						(long long) c->min, (long long) c->max)));
	c->expected = (int64) span + 1;
	c->received = (int64) received;
	c->missing = c->expected - c->received;
	return true;
}

PG_FUNCTION_INFO_V1(apivalue_sequence_missing_count);
Datum
apivalue_sequence_missing_count(PG_FUNCTION_ARGS)
{
	SequenceGapCounts c;

	if (PG_ARGISNULL(0))
		PG_RETURN_INT64(0);
	sequence_summary_counts(PG_GETARG_DATUM(0), &c);
	PG_RETURN_INT64(c.missing);
}

PG_FUNCTION_INFO_V1(apivalue_sequence_expected_count);
Datum
apivalue_sequence_expected_count(PG_FUNCTION_ARGS)
{
	SequenceGapCounts c;

	sequence_summary_counts(PG_GETARG_DATUM(0), &c);
	PG_RETURN_INT64(c.expected);
}

PG_FUNCTION_INFO_V1(apivalue_sequence_received_count);
Datum
apivalue_sequence_received_count(PG_FUNCTION_ARGS)
{
	SequenceGapCounts c;

	sequence_summary_counts(PG_GETARG_DATUM(0), &c);
	PG_RETURN_INT64(c.received);
}

PG_FUNCTION_INFO_V1(apivalue_sequence_row_count);
Datum
apivalue_sequence_row_count(PG_FUNCTION_ARGS)
{
	SequenceGapCounts c;

	sequence_summary_counts(PG_GETARG_DATUM(0), &c);
	PG_RETURN_INT64(c.rows);
}

/* The holes of a range set as a multirange; lo/hi shift the hole bounds. */
static Datum
holes_multirange(const RangeSetView *v, Oid rngtype, Oid mrtype,
				 bool inclusive_ints)
{
	TypeCacheEntry *typcache = lookup_type_cache(rngtype, TYPECACHE_RANGE_INFO);
	RangeType **ranges;
	int32		n = Max(v->nranges - 1, 0);
	int32		i;

	ranges = palloc(sizeof(RangeType *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		RangeBound lower,
					upper;
		int64		a = v->ranges[2 * i + 1];
		int64		b = v->ranges[2 * i + 2];

		lower.infinite = upper.infinite = false;
		lower.lower = true;
		upper.lower = false;
		if (inclusive_ints)
		{
			/* Missing integers a+1 .. b-1, written canonically [a+1, b). */
			lower.val = Int64GetDatum(a + 1);
			lower.inclusive = true;
			upper.val = Int64GetDatum(b);
			upper.inclusive = false;
		}
		else
		{
			/* The silence strictly between two events. */
			lower.val = TimestampTzGetDatum(a);
			lower.inclusive = false;
			upper.val = TimestampTzGetDatum(b);
			upper.inclusive = false;
		}
		ranges[i] = make_range(typcache, &lower, &upper, false);
	}
	return PointerGetDatum(make_multirange(mrtype, typcache, n, ranges));
}

PG_FUNCTION_INFO_V1(apivalue_sequence_missing_ranges);
Datum
apivalue_sequence_missing_ranges(PG_FUNCTION_ARGS)
{
	RangeSetView v;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	rangeset_view(PG_GETARG_DATUM(0), RANGESET_KIND_SEQUENCE, &v);
	PG_RETURN_DATUM(holes_multirange(&v, INT8RANGEOID, INT8MULTIRANGEOID, true));
}

/* ---------- dead-time readings ---------- */

PG_FUNCTION_INFO_V1(apivalue_dead_time_value);
Datum
apivalue_dead_time_value(PG_FUNCTION_ARGS)
{
	RangeSetView v;
	int64		dead = 0;
	int32		i;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	rangeset_view(PG_GETARG_DATUM(0), RANGESET_KIND_TIME, &v);
	for (i = 1; i < v.nranges; i++)
		dead += v.ranges[2 * i] - v.ranges[2 * i - 1] - v.join;
	PG_RETURN_INTERVAL_P(quality_usec_interval(dead));
}

PG_FUNCTION_INFO_V1(apivalue_dead_time_longest_gap);
Datum
apivalue_dead_time_longest_gap(PG_FUNCTION_ARGS)
{
	RangeSetView v;
	int64		longest = 0;
	int32		i;

	rangeset_view(PG_GETARG_DATUM(0), RANGESET_KIND_TIME, &v);
	if (v.nranges < 2)
		PG_RETURN_NULL();
	for (i = 1; i < v.nranges; i++)
		longest = Max(longest, v.ranges[2 * i] - v.ranges[2 * i - 1]);
	PG_RETURN_INTERVAL_P(quality_usec_interval(longest));
}

PG_FUNCTION_INFO_V1(apivalue_dead_time_gap_count);
Datum
apivalue_dead_time_gap_count(PG_FUNCTION_ARGS)
{
	RangeSetView v;

	rangeset_view(PG_GETARG_DATUM(0), RANGESET_KIND_TIME, &v);
	PG_RETURN_INT64(Max(v.nranges - 1, 0));
}

PG_FUNCTION_INFO_V1(apivalue_dead_time_event_count);
Datum
apivalue_dead_time_event_count(PG_FUNCTION_ARGS)
{
	RangeSetView v;

	rangeset_view(PG_GETARG_DATUM(0), RANGESET_KIND_TIME, &v);
	PG_RETURN_INT64(v.rows);
}

PG_FUNCTION_INFO_V1(apivalue_dead_time_gap_ranges);
Datum
apivalue_dead_time_gap_ranges(PG_FUNCTION_ARGS)
{
	RangeSetView v;

	rangeset_view(PG_GETARG_DATUM(0), RANGESET_KIND_TIME, &v);
	PG_RETURN_DATUM(holes_multirange(&v, TSTZRANGEOID, TSTZMULTIRANGEOID, false));
}

PG_FUNCTION_INFO_V1(apivalue_dead_time_max_gap);
Datum
apivalue_dead_time_max_gap(PG_FUNCTION_ARGS)
{
	RangeSetView v;

	rangeset_view(PG_GETARG_DATUM(0), RANGESET_KIND_TIME, &v);
	PG_RETURN_INTERVAL_P(quality_usec_interval(v.join));
}
