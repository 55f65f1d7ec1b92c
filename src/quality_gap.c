/*-------------------------------------------------------------------------
 *
 * quality_gap.c
 *	  Missing data: sequence-number gaps and dead time, on range sets.
 *
 * Both detectors ask "where are the holes": between the sequence numbers a
 * device sent, or between events more than max_gap apart.  The state is a
 * range set (see quality_gap.h): sorted disjoint ranges plus a buffer of raw
 * values not merged yet.  A row appends to the buffer (amortized O(1), no
 * palloc); a full buffer is sorted once and merged into the ranges, so a
 * healthy device (a contiguous counter, a steady heartbeat) costs a single
 * range however many rows it has.  Combining two states is a merge of two
 * sorted range lists: exact, whatever the split of the rows.
 *
 * Cost: O(n log b) time for n rows with buffer size b, memory O(ranges + b).
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

/* Raw values buffered before a sort-and-merge. */
#define RANGESET_BUFFER_MAX 65536

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

typedef struct RangeSetExpanded RangeSetExpanded;
struct RangeSetExpanded
{
	ExpandedObjectHeader hdr;
	uint8		kind;
	int64		join;
	int64		rows;
	int64	   *ranges;
	int32		nranges;		/* ranges in use (pairs) */
	int32		rcap;			/* capacity in int64 elements */
	int64	   *buf;
	int32		nbuf;
	int32		bcap;
};

static Size rangeset_get_flat_size(ExpandedObjectHeader *eohptr);
static void rangeset_flatten_into(ExpandedObjectHeader *eohptr,
								  void *result, Size allocated_size);

static void rangeset_merge(struct RangeSetExpanded *rs, const RangeSetView *v);

static const ExpandedObjectMethods rangeset_methods = {
	rangeset_get_flat_size,
	rangeset_flatten_into
};

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

/* Sort the buffer and merge it into the ranges. */
static void
rangeset_compact(RangeSetExpanded *rs)
{
	int64	   *out;
	int32		n;

	if (rs->nbuf == 0)
		return;
	qsort(rs->buf, rs->nbuf, sizeof(int64), cmp_int64);
	out = MemoryContextAllocHuge(rs->hdr.eoh_context,
								 sizeof(int64) * 2 * ((Size) rs->nranges + rs->nbuf));
	n = merge_ranges(rs->ranges, rs->nranges, rs->buf, rs->nbuf, false,
					 rs->join, out);
	if (rs->ranges)
		pfree(rs->ranges);
	rs->ranges = out;
	rs->nranges = n;
	rs->rcap = 2 * (n > 0 ? n : 0) + 2 * rs->nbuf;
	rs->nbuf = 0;
}

static RangeSetExpanded *
rangeset_new(MemoryContext parent, uint8 kind, int64 join)
{
	MemoryContext cxt = quality_state_context(parent);
	RangeSetExpanded *rs;

	rs = MemoryContextAllocZero(cxt, sizeof(RangeSetExpanded));
	EOH_init_header(&rs->hdr, &rangeset_methods, cxt);
	rs->kind = kind;
	rs->join = join;
	return rs;
}

/*
 * Check a flat range set: header, count against size, kind, and that the
 * ranges are sorted, disjoint and not joinable (the invariant every reader
 * relies on).
 */
static const RangeSetFlat *
rangeset_check_flat(struct varlena *v, uint8 kind)
{
	const RangeSetFlat *f = (const RangeSetFlat *) v;
	Size		size = VARSIZE(v);
	int32		i;

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
	for (i = 0; i < f->nranges; i++)
	{
		if (f->ranges[2 * i] > f->ranges[2 * i + 1] ||
			(i > 0 && joins(f->ranges[2 * i - 1], f->ranges[2 * i], f->join)))
			quality_corrupt(kind_type_name(kind), "ranges are not sorted and disjoint");
	}
	return f;
}

static Size
rangeset_get_flat_size(ExpandedObjectHeader *eohptr)
{
	RangeSetExpanded *rs = (RangeSetExpanded *) eohptr;

	rangeset_compact(rs);
	return RANGESET_HDRSZ + sizeof(int64) * 2 * (Size) rs->nranges;
}

static void
rangeset_flatten_into(ExpandedObjectHeader *eohptr, void *result,
					  Size allocated_size)
{
	RangeSetExpanded *rs = (RangeSetExpanded *) eohptr;
	RangeSetFlat *f = (RangeSetFlat *) result;

	rangeset_compact(rs);
	Assert(allocated_size == RANGESET_HDRSZ + sizeof(int64) * 2 * (Size) rs->nranges);
	memset(f, 0, RANGESET_HDRSZ);
	SET_VARSIZE(f, allocated_size);
	f->version = QUALITY_STATE_VERSION;
	f->kind = rs->kind;
	f->nranges = rs->nranges;
	f->join = rs->join;
	f->rows = rs->rows;
	if (rs->nranges > 0)
		memcpy(f->ranges, rs->ranges, sizeof(int64) * 2 * rs->nranges);
}

void
rangeset_view(Datum d, uint8 kind, RangeSetView *view)
{
	ExpandedObjectHeader *eoh = quality_expanded(d, &rangeset_methods);

	if (eoh)
	{
		RangeSetExpanded *rs = (RangeSetExpanded *) eoh;

		if (rs->kind != kind)
			quality_corrupt(kind_type_name(kind), "value is a summary of another kind");
		rangeset_compact(rs);
		view->kind = rs->kind;
		view->join = rs->join;
		view->rows = rs->rows;
		view->nranges = rs->nranges;
		view->ranges = rs->ranges;
	}
	else
	{
		const RangeSetFlat *f;

		f = rangeset_check_flat(PG_DETOAST_DATUM(d), kind);
		view->kind = f->kind;
		view->join = f->join;
		view->rows = f->rows;
		view->nranges = f->nranges;
		view->ranges = f->ranges;
	}
}

/*
 * The state of argument argno, ready to be modified in place: our expanded
 * object, or a new one (empty, or expanded from a flat value).
 */
static RangeSetExpanded *
rangeset_for_update(FunctionCallInfo fcinfo, int argno, MemoryContext aggcxt,
					uint8 kind, int64 join)
{
	RangeSetExpanded *rs;
	Datum		d;

	if (PG_ARGISNULL(argno))
		return rangeset_new(aggcxt, kind, join);
	d = PG_GETARG_DATUM(argno);
	rs = (RangeSetExpanded *) quality_expanded(d, &rangeset_methods);
	if (rs && VARATT_IS_EXTERNAL_EXPANDED_RW(DatumGetPointer(d)) &&
		MemoryContextGetParent(rs->hdr.eoh_context) == aggcxt)
	{
		if (rs->kind != kind)
			quality_corrupt(kind_type_name(kind), "value is a summary of another kind");
		return rs;
	}
	{
		RangeSetView v;

		/* Not ours to modify: copy it into a new expanded state. */
		rangeset_view(d, kind, &v);
		rs = rangeset_new(aggcxt, kind, v.join);
		rangeset_merge(rs, &v);
	}
	return rs;
}

static inline void
rangeset_add(RangeSetExpanded *rs, int64 value)
{
	if (rs->nbuf >= rs->bcap)
	{
		if (rs->bcap >= RANGESET_BUFFER_MAX)
			rangeset_compact(rs);
		else
			quality_reserve((void **) &rs->buf, &rs->bcap, (int64) rs->nbuf + 1,
							sizeof(int64), rs->hdr.eoh_context);
	}
	rs->buf[rs->nbuf++] = value;
	rs->rows++;
}

/* Merge the ranges of view v into rs. */
static void
rangeset_merge(RangeSetExpanded *rs, const RangeSetView *v)
{
	int64	   *out;
	int32		n;

	if (v->join != rs->join)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot combine dead-time summaries with different max_gap values")));
	rangeset_compact(rs);
	rs->rows += v->rows;
	if (v->nranges == 0)
		return;
	out = MemoryContextAllocHuge(rs->hdr.eoh_context,
								 sizeof(int64) * 2 * ((Size) rs->nranges + v->nranges));
	n = merge_ranges(rs->ranges, rs->nranges, v->ranges, v->nranges, true,
					 rs->join, out);
	if (rs->ranges)
		pfree(rs->ranges);
	rs->ranges = out;
	rs->nranges = n;
	rs->rcap = 2 * (rs->nranges);
}

/* A flat copy of an expanded state in the current memory context. */
static Datum
rangeset_flat_copy(RangeSetExpanded *rs)
{
	Size		size = rangeset_get_flat_size(&rs->hdr);
	void	   *result = palloc(size);

	rangeset_flatten_into(&rs->hdr, result, size);
	return PointerGetDatum(result);
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
	MemoryContext aggcxt = quality_agg_context(fcinfo, "sequence_summary");
	RangeSetExpanded *rs;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	rs = rangeset_for_update(fcinfo, 0, aggcxt, RANGESET_KIND_SEQUENCE, 1);
	rangeset_add(rs, PG_GETARG_INT64(1));
	PG_RETURN_DATUM(EOHPGetRWDatum(&rs->hdr));
}

/*
 * dead_time_summary(ts timestamptz, max_gap interval) transition: append
 * one event time.  max_gap must be the same on every row.
 */
PG_FUNCTION_INFO_V1(apivalue_dead_time_summary_accum);
Datum
apivalue_dead_time_summary_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt = quality_agg_context(fcinfo, "dead_time");
	RangeSetExpanded *rs;
	TimestampTz ts;
	int64		max_gap;

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
	rs = rangeset_for_update(fcinfo, 0, aggcxt, RANGESET_KIND_TIME, max_gap);
	if (rs->join != max_gap)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_gap must be the same for every row of a group"),
				 errhint("Pass a constant max_gap.")));
	rangeset_add(rs, ts);
	PG_RETURN_DATUM(EOHPGetRWDatum(&rs->hdr));
}

/*
 * Combine two range sets of the same kind (also the transition function of
 * rollup()).  Never modifies its second argument.
 */
static Datum
rangeset_combine(FunctionCallInfo fcinfo, uint8 kind)
{
	MemoryContext aggcxt = quality_agg_context(fcinfo, "rollup");
	RangeSetExpanded *rs;
	RangeSetView v;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	rangeset_view(PG_GETARG_DATUM(1), kind, &v);
	rs = rangeset_for_update(fcinfo, 0, aggcxt, kind, v.join);
	rangeset_merge(rs, &v);
	PG_RETURN_DATUM(EOHPGetRWDatum(&rs->hdr));
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
	ExpandedObjectHeader *eoh;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	eoh = quality_expanded(PG_GETARG_DATUM(0), &rangeset_methods);
	if (eoh)
		PG_RETURN_DATUM(rangeset_flat_copy((RangeSetExpanded *) eoh));
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
