/*-------------------------------------------------------------------------
 *
 * funnel.c
 *	  window_funnel, window_funnel_times, retention and funnel_counts:
 *	  ClickHouse-compatible funnel aggregates.
 *
 * window_funnel and window_funnel_times share one transition state: the
 * group's events as compact records in the shared event buffer
 * (event_buffer.h), plus the window, modes and number of conditions (the
 * final function cannot see the arguments).  Rows matching no condition are
 * not stored, except in strict_order mode, where ClickHouse keeps them
 * because they interrupt a chain.  The final function sorts once (skipped
 * when rows arrived in order) and runs the chain search of funnel.h.
 *
 * Conditions are passed as VARIADIC "any": each row's booleans are read
 * straight from the call's arguments, with no array built per row (an
 * explicit VARIADIC boolean[] call is accepted too, on a slower path).
 * Argument types are checked once per query and cached in fn_extra.
 *
 * retention keeps a bigint (condition bitmask plus the number of
 * conditions), combined with bitwise OR; funnel_counts keeps its result,
 * a bigint[], combined element-wise, so both can be partially aggregated by
 * Citus as well as by parallel query.
 *
 * src/funnel.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "funnel.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

PG_FUNCTION_INFO_V1(apivalue_window_funnel_accum);
PG_FUNCTION_INFO_V1(apivalue_window_funnel_combine);
PG_FUNCTION_INFO_V1(apivalue_window_funnel_serialize);
PG_FUNCTION_INFO_V1(apivalue_window_funnel_deserialize);
PG_FUNCTION_INFO_V1(apivalue_window_funnel_final);
PG_FUNCTION_INFO_V1(apivalue_window_funnel_times_final);
PG_FUNCTION_INFO_V1(apivalue_retention_accum);
PG_FUNCTION_INFO_V1(apivalue_retention_final);
PG_FUNCTION_INFO_V1(apivalue_funnel_counts_accum);
PG_FUNCTION_INFO_V1(apivalue_funnel_counts_combine);

#define FUNNEL_STATE_VERSION 1

/* Kind of time column, kept in the state for window_funnel_times. */
#define TS_KIND_TIMESTAMPTZ 0
#define TS_KIND_TIMESTAMP	1
#define TS_KIND_BIGINT		2

typedef struct FunnelState
{
	AvEventBuffer buf;
	int64		window;			/* microseconds, or the bigint's units */
	uint32		modes;			/* AV_FUNNEL_* bits */
	int			nconds;			/* 1..32 */
	int			tskind;			/* TS_KIND_* */
} FunnelState;

/* Serialized header, after the varlena header; events follow. */
typedef struct FunnelStateHeader
{
	uint8		version;
	uint8		modes;
	uint8		nconds;
	uint8		tskind;
	int64		window;
} FunnelStateHeader;

/*
 * What one call site's arguments look like, worked out once per query.
 * Layout of window_funnel's arguments (after the state): window, [modes],
 * ts, conditions...
 */
typedef struct FunnelCallInfo
{
	bool		window_is_interval;
	int			modes_arg;		/* argument number of modes, or -1 */
	int			ts_arg;
	int			first_cond;
	int			nconds;			/* 0 when conditions come as an array */
	bool		cond_array;		/* called as VARIADIC boolean[] */
	int			tskind;
	/* modes parsed from the last modes argument seen */
	Datum		modes_datum;
	uint32		modes;
	bool		have_modes;
} FunnelCallInfo;

/* Support functions called outside an aggregate: a caller's mistake. */
static void
not_aggregate(const char *fn)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s can only be called as part of an aggregate", fn)));
}

#define IS_BLANK(c) ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r')

static const char *const mode_names[] = {
	"strict_deduplication", "strict_order", "strict_increase", "allow_reentry"
};

/*
 * Parse a comma-separated list of modes.  Items may be surrounded by blanks;
 * empty items are ignored.  An unknown word is an error that quotes it.
 */
uint32
av_funnel_parse_modes(const char *modes, int len)
{
	uint32		result = 0;
	int			pos = 0;

	while (pos <= len)
	{
		int			start = pos;
		int			end;
		int			k;
		bool		found = false;

		while (pos < len && modes[pos] != ',')
			pos++;
		end = pos;
		pos++;					/* skip the comma */
		while (start < end && IS_BLANK(modes[start]))
			start++;
		while (end > start && IS_BLANK(modes[end - 1]))
			end--;
		if (start == end)
			continue;
		for (k = 0; k < (int) lengthof(mode_names); k++)
		{
			if (strlen(mode_names[k]) == (size_t) (end - start) &&
				strncmp(modes + start, mode_names[k], end - start) == 0)
			{
				result |= (uint32) 1 << k;
				found = true;
				break;
			}
		}
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown window_funnel mode \"%.*s\"",
							end - start, modes + start),
					 (end - start == 6 && strncmp(modes + start, "strict", 6) == 0) ?
					 errhint("\"strict\" was renamed \"strict_deduplication\".") :
					 errhint("Valid modes are strict_deduplication, strict_order, strict_increase and allow_reentry, separated by commas.")));
	}
	if ((result & AV_FUNNEL_ALLOW_REENTRY) && !(result & AV_FUNNEL_STRICT_ORDER))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_funnel mode allow_reentry requires strict_order"),
				 errhint("Use modes 'strict_order, allow_reentry'.")));
	return result;
}

/*
 * Check the condition arguments of a VARIADIC "any" call (from argument
 * number "first" on) and return how many there are.  "what" names the
 * function in messages.
 */
static int
check_conditions(FunctionCallInfo fcinfo, int first, const char *what,
				 bool *cond_array)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;
	int			nargs = PG_NARGS();
	int			nconds = nargs - first;
	int			k;

	*cond_array = get_fn_expr_variadic(flinfo);
	if (*cond_array)
	{
		Oid			t = get_fn_expr_argtype(flinfo, first);

		if (nconds != 1 || t != BOOLARRAYOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s conditions passed with VARIADIC must be a boolean[], not %s",
							what, format_type_be(t))));
		return 0;
	}
	if (nconds < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs at least one condition", what),
				 errhint("Pass one boolean expression per step, e.g. %s(..., event = 'signup', event = 'first_call').",
						 what)));
	if (nconds > AV_MAX_CONDITIONS)
		ereport(ERROR,
				(errcode(ERRCODE_TOO_MANY_ARGUMENTS),
				 errmsg("%s accepts at most %d conditions, got %d",
						what, AV_MAX_CONDITIONS, nconds)));
	for (k = 0; k < nconds; k++)
	{
		Oid			t = get_fn_expr_argtype(flinfo, first + k);

		if (t != BOOLOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("%s condition %d must be boolean, not %s",
							what, k + 1,
							OidIsValid(t) ? format_type_be(t) : "unknown"),
					 errhint("Write the condition as a boolean expression, e.g. event = 'signup'.")));
	}
	return nconds;
}

/*
 * Condition bits of one row: bit k-1 set when condition k is true (NULL
 * counts as false).  The array form checks its length on every row, since
 * nothing fixes it in advance.
 */
static inline uint32
row_bits(FunctionCallInfo fcinfo, int first, int nconds, bool cond_array,
		 const char *what, int *nconds_out)
{
	uint32		bits = 0;
	int			k;

	if (cond_array)
	{
		ArrayType  *arr;
		Datum	   *values;
		bool	   *nulls;
		int			n;

		if (PG_ARGISNULL(first))
		{
			*nconds_out = 0;
			return 0;
		}
		arr = PG_GETARG_ARRAYTYPE_P(first);
		deconstruct_array(arr, BOOLOID, 1, true, TYPALIGN_CHAR,
						  &values, &nulls, &n);
		if (n < 1 || n > AV_MAX_CONDITIONS)
			ereport(ERROR,
					(errcode(n < 1 ? ERRCODE_INVALID_PARAMETER_VALUE : ERRCODE_TOO_MANY_ARGUMENTS),
					 errmsg("%s needs between 1 and %d conditions, got %d",
							what, AV_MAX_CONDITIONS, n)));
		for (k = 0; k < n; k++)
			if (!nulls[k] && DatumGetBool(values[k]))
				bits |= (uint32) 1 << k;
		*nconds_out = n;
		return bits;
	}
	for (k = 0; k < nconds; k++)
		if (!PG_ARGISNULL(first + k) && PG_GETARG_BOOL(first + k))
			bits |= (uint32) 1 << k;
	*nconds_out = nconds;
	return bits;
}

/* Work out (once per query) the layout of window_funnel's arguments. */
static FunnelCallInfo *
funnel_call_info(FunctionCallInfo fcinfo)
{
	FmgrInfo   *flinfo = fcinfo->flinfo;
	FunnelCallInfo *info = (FunnelCallInfo *) flinfo->fn_extra;
	Oid			t;

	if (info != NULL)
		return info;

	info = MemoryContextAllocZero(flinfo->fn_mcxt, sizeof(FunnelCallInfo));
	info->window_is_interval = get_fn_expr_argtype(flinfo, 1) == INTERVALOID;
	t = get_fn_expr_argtype(flinfo, 2);
	if (t == TEXTOID)
	{
		info->modes_arg = 2;
		info->ts_arg = 3;
	}
	else
	{
		info->modes_arg = -1;
		info->ts_arg = 2;
	}
	info->first_cond = info->ts_arg + 1;
	t = get_fn_expr_argtype(flinfo, info->ts_arg);
	info->tskind = t == TIMESTAMPTZOID ? TS_KIND_TIMESTAMPTZ :
		t == TIMESTAMPOID ? TS_KIND_TIMESTAMP : TS_KIND_BIGINT;
	info->nconds = check_conditions(fcinfo, info->first_cond, "window_funnel",
									&info->cond_array);
	flinfo->fn_extra = info;
	return info;
}

/*
 * window_funnel's transition function, shared by every overload and by
 * window_funnel_times: append the row's condition bits to the group's
 * event buffer.
 */
Datum
apivalue_window_funnel_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	MemoryContext old;
	FunnelCallInfo *info;
	FunnelState *state;
	int64		window;
	uint32		modes = 0;
	int64		ts;
	uint32		bits;
	int			nconds;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		not_aggregate("apivalue_window_funnel_accum");
	info = funnel_call_info(fcinfo);
	state = PG_ARGISNULL(0) ? NULL : (FunnelState *) PG_GETARG_POINTER(0);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("window_funnel window must not be NULL")));
	if (info->window_is_interval)
		window = av_window_usec(PG_GETARG_INTERVAL_P(1), "window_funnel window");
	else
	{
		window = PG_GETARG_INT64(1);
		if (window < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("window_funnel window must not be negative, got %lld",
							(long long) window)));
	}
	if (info->modes_arg >= 0)
	{
		Datum		d;

		if (PG_ARGISNULL(info->modes_arg))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("window_funnel modes must not be NULL"),
					 errhint("Use '' for the default mode.")));
		d = PG_GETARG_DATUM(info->modes_arg);
		/* a constant argument arrives as the same pointer every row */
		if (!info->have_modes || d != info->modes_datum)
		{
			text	   *m = DatumGetTextPP(d);

			info->modes = av_funnel_parse_modes(VARDATA_ANY(m),
												VARSIZE_ANY_EXHDR(m));
			info->modes_datum = d;
			info->have_modes = true;
		}
		modes = info->modes;
	}

	bits = row_bits(fcinfo, info->first_cond, info->nconds, info->cond_array,
					"window_funnel", &nconds);

	if (state == NULL)
	{
		state = MemoryContextAlloc(aggctx, sizeof(FunnelState));
		av_events_init(&state->buf);
		state->window = window;
		state->modes = modes;
		state->nconds = nconds;
		state->tskind = info->tskind;
	}
	else if (state->window != window || state->modes != modes ||
			 (state->nconds != nconds && nconds > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_funnel window, modes and number of conditions must be the same for every row of a group")));
	if (state->nconds == 0)
		state->nconds = nconds;	/* first rows had a NULL array */

	if (PG_ARGISNULL(info->ts_arg))
		PG_RETURN_POINTER(state);
	if (info->tskind == TS_KIND_BIGINT)
		ts = PG_GETARG_INT64(info->ts_arg);
	else
		ts = av_timestamp_arg(PG_GETARG_TIMESTAMP(info->ts_arg));

	if (bits != 0 || (modes & AV_FUNNEL_STRICT_ORDER))
	{
		old = MemoryContextSwitchTo(aggctx);
		av_events_append(&state->buf, ts, bits, 0);
		MemoryContextSwitchTo(old);
	}
	PG_RETURN_POINTER(state);
}

/* Copy a state into the aggregate context. */
static FunnelState *
copy_state(MemoryContext aggctx, const FunnelState *src)
{
	FunnelState *dst = MemoryContextAlloc(aggctx, sizeof(FunnelState));
	MemoryContext old = MemoryContextSwitchTo(aggctx);

	*dst = *src;
	av_events_init(&dst->buf);
	av_events_merge(&dst->buf, &src->buf);
	MemoryContextSwitchTo(old);
	return dst;
}

/*
 * Combine two partial states: merge their sorted runs (or concatenate and
 * let the final function sort).  Both must have the same parameters.
 */
Datum
apivalue_window_funnel_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	MemoryContext old;
	FunnelState *s1;
	FunnelState *s2;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		not_aggregate("apivalue_window_funnel_combine");
	s1 = PG_ARGISNULL(0) ? NULL : (FunnelState *) PG_GETARG_POINTER(0);
	s2 = PG_ARGISNULL(1) ? NULL : (FunnelState *) PG_GETARG_POINTER(1);
	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
		PG_RETURN_POINTER(copy_state(aggctx, s2));
	if (s1->window != s2->window || s1->modes != s2->modes ||
		s1->tskind != s2->tskind ||
		(s1->nconds != s2->nconds && s1->nconds > 0 && s2->nconds > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("window_funnel window, modes and number of conditions must be the same for every row of a group")));
	if (s1->nconds == 0)
		s1->nconds = s2->nconds;
	old = MemoryContextSwitchTo(aggctx);
	av_events_merge(&s1->buf, &s2->buf);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(s1);
}

/*
 * Serialize: a version byte and the parameters, then the event records
 * (av_events_serialize's format).
 */
Datum
apivalue_window_funnel_serialize(PG_FUNCTION_ARGS)
{
	FunnelState *s;
	FunnelStateHeader h;
	Size		size;
	bytea	   *out;
	char	   *p;

	if (!AggCheckCallContext(fcinfo, NULL))
		not_aggregate("apivalue_window_funnel_serialize");
	s = (FunnelState *) PG_GETARG_POINTER(0);
	memset(&h, 0, sizeof(h));
	h.version = FUNNEL_STATE_VERSION;
	h.modes = (uint8) s->modes;
	h.nconds = (uint8) s->nconds;
	h.tskind = (uint8) s->tskind;
	h.window = s->window;
	size = VARHDRSZ + sizeof(h) + av_events_serialized_size(&s->buf);
	out = palloc_extended(size, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, size);
	p = VARDATA(out);
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	p = av_events_serialize(&s->buf, p);
	Assert(p == (char *) out + size);
	PG_RETURN_BYTEA_P(out);
}

/*
 * Deserialize defensively: check the version, the parameters and every
 * record's condition bits before the state is used.
 */
Datum
apivalue_window_funnel_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	MemoryContext old;
	bytea	   *in;
	const char *p;
	const char *end;
	FunnelStateHeader h;
	FunnelState *s;
	int64		i;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		not_aggregate("apivalue_window_funnel_deserialize");
	in = PG_GETARG_BYTEA_PP(0);
	p = VARDATA_ANY(in);
	end = p + VARSIZE_ANY_EXHDR(in);
	if (end - p < (ptrdiff_t) sizeof(h))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid window_funnel state: truncated header")));
	memcpy(&h, p, sizeof(h));
	p += sizeof(h);
	if (h.version != FUNNEL_STATE_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid window_funnel state: unknown version %d", h.version)));
	if ((h.modes & ~AV_FUNNEL_ALL_MODES) != 0 || h.nconds > AV_MAX_CONDITIONS ||
		h.tskind > TS_KIND_BIGINT || h.window < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid window_funnel state: bad parameters")));

	old = MemoryContextSwitchTo(aggctx);
	s = palloc(sizeof(FunnelState));
	av_events_init(&s->buf);
	p = av_events_deserialize(&s->buf, p, end);
	MemoryContextSwitchTo(old);
	if (p != end)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid window_funnel state: trailing bytes")));
	s->window = h.window;
	s->modes = h.modes;
	s->nconds = h.nconds;
	s->tskind = h.tskind;
	for (i = 0; i < s->buf.nevents; i++)
	{
		uint32		b = s->buf.events[i].bits;

		if ((s->nconds < AV_MAX_CONDITIONS && (b >> s->nconds) != 0) ||
			(b == 0 && !(s->modes & AV_FUNNEL_STRICT_ORDER)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
					 errmsg("invalid window_funnel state: bad condition bits")));
	}
	PG_RETURN_POINTER(s);
}

/* Sort the state's events and run the chain search. */
static int
funnel_level(FunnelState *s, int64 *times)
{
	if (s->buf.nevents == 0 || s->nconds == 0)
		return 0;
	av_events_sort(&s->buf);
	return av_funnel_run(s->buf.events, s->buf.nevents, s->nconds,
						 s->window, s->modes, times);
}

/*
 * window_funnel's final function: the level.  The in-place sort keeps the
 * state's content, so the state stays valid for further rows (window
 * aggregates) and for window_funnel_times sharing it.
 */
Datum
apivalue_window_funnel_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_INT32(0);
	PG_RETURN_INT32(funnel_level((FunnelState *) PG_GETARG_POINTER(0), NULL));
}

/*
 * window_funnel_times's final function: the step times of the chain that
 * first reached the final level, as an array of the time column's type
 * (the aggregate's declared result type).
 */
Datum
apivalue_window_funnel_times_final(PG_FUNCTION_ARGS)
{
	Oid			rettype = get_fn_expr_rettype(fcinfo->flinfo);
	Oid			elemtype = OidIsValid(rettype) ? get_element_type(rettype) : InvalidOid;
	int64		times[AV_MAX_CONDITIONS];
	Datum		elems[AV_MAX_CONDITIONS];
	int			level = 0;
	int			k;

	if (elemtype != TIMESTAMPTZOID && elemtype != TIMESTAMPOID &&
		elemtype != INT8OID)
		elog(ERROR, "apivalue_window_funnel_times_final: unexpected result type");
	if (!PG_ARGISNULL(0))
		level = funnel_level((FunnelState *) PG_GETARG_POINTER(0), times);
	for (k = 0; k < level; k++)
		elems[k] = Int64GetDatum(times[k]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, level, elemtype, 8,
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * retention's state: bits 0..31 hold which conditions were true on some
 * row, bits 32..39 the number of conditions.  Combined with int8or.
 */
Datum
apivalue_retention_accum(PG_FUNCTION_ARGS)
{
	int64		state = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	int			nconds;
	bool		cond_array;
	uint32		bits;
	int			n;

	/* the argument check is cached: fn_extra set means it passed */
	if (fcinfo->flinfo->fn_extra == NULL)
	{
		nconds = check_conditions(fcinfo, 1, "retention", &cond_array);
		fcinfo->flinfo->fn_extra = cond_array ? (void *) 2 : (void *) 1;
	}
	cond_array = fcinfo->flinfo->fn_extra == (void *) 2;
	nconds = cond_array ? 0 : PG_NARGS() - 1;
	bits = row_bits(fcinfo, 1, nconds, cond_array, "retention", &n);
	if (n == 0)
	{
		/* a NULL condition array: a row with no information */
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_INT64(state);
	}
	if (!PG_ARGISNULL(0) && (int) ((uint64) state >> 32) != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("retention must get the same number of conditions on every row")));
	PG_RETURN_INT64((int64) (((uint64) n << 32) | ((uint64) state & 0xFFFFFFFF) | bits));
}

/*
 * retention's result: element 1 is whether condition 1 held; element k > 1
 * whether both condition 1 and condition k held (ClickHouse's retention).
 */
Datum
apivalue_retention_final(PG_FUNCTION_ARGS)
{
	uint64		state = (uint64) PG_GETARG_INT64(0);
	uint32		bits = (uint32) (state & 0xFFFFFFFF);
	int			n = (int) (state >> 32);
	Datum		elems[AV_MAX_CONDITIONS];
	int			k;

	if (n < 1 || n > AV_MAX_CONDITIONS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid retention state %lld", (long long) state)));
	for (k = 0; k < n; k++)
		elems[k] = Int32GetDatum((bits & 1) && (bits >> k & 1) ? 1 : 0);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, INT4OID, 4, true,
										  TYPALIGN_INT));
}

/* A funnel_counts state must be a one-dimensional bigint[] without NULLs. */
static int
counts_length(ArrayType *a)
{
	if (ARR_NDIM(a) != 1 || ARR_HASNULL(a) || ARR_ELEMTYPE(a) != INT8OID ||
		ARR_LBOUND(a)[0] != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid funnel_counts state"),
				 errdetail("A funnel_counts state is a one-dimensional bigint[] without NULLs.")));
	return ARR_DIMS(a)[0];
}

/*
 * funnel_counts(level, steps): the state is the result, a bigint[] of
 * length steps whose element k counts the rows with level >= k.  Modified in
 * place when called as an aggregate.
 */
Datum
apivalue_funnel_counts_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	ArrayType  *state;
	int32		level;
	int32		steps;
	int64	   *counts;
	int			k;

	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("funnel_counts steps must not be NULL")));
	steps = PG_GETARG_INT32(2);
	if (steps < 1 || steps > AV_MAX_CONDITIONS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("funnel_counts steps must be between 1 and %d, got %d",
						AV_MAX_CONDITIONS, steps)));

	if (PG_ARGISNULL(0))
	{
		Datum		zeros[AV_MAX_CONDITIONS];
		MemoryContext old;

		for (k = 0; k < steps; k++)
			zeros[k] = Int64GetDatum(0);
		old = AggCheckCallContext(fcinfo, &aggctx) ?
			MemoryContextSwitchTo(aggctx) : CurrentMemoryContext;
		state = construct_array(zeros, steps, INT8OID, 8, FLOAT8PASSBYVAL,
								TYPALIGN_DOUBLE);
		MemoryContextSwitchTo(old);
	}
	else if (AggCheckCallContext(fcinfo, NULL))
		state = PG_GETARG_ARRAYTYPE_P(0);
	else
		state = PG_GETARG_ARRAYTYPE_P_COPY(0);

	if (counts_length(state) != steps)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("funnel_counts steps must be the same on every row (%d, then %d)",
						counts_length(state), steps)));
	if (PG_ARGISNULL(1))
		PG_RETURN_ARRAYTYPE_P(state);
	level = PG_GETARG_INT32(1);
	if (level < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("funnel_counts level must not be negative, got %d", level)));
	counts = (int64 *) ARR_DATA_PTR(state);
	for (k = 0; k < Min(level, steps); k++)
		counts[k]++;
	PG_RETURN_ARRAYTYPE_P(state);
}

/* Element-wise sum of two funnel_counts states of the same length. */
Datum
apivalue_funnel_counts_combine(PG_FUNCTION_ARGS)
{
	ArrayType  *a;
	ArrayType  *b;
	int64	   *ca;
	int64	   *cb;
	int			n;
	int			k;

	if (PG_ARGISNULL(0))
	{
		if (PG_ARGISNULL(1))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	}
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	a = AggCheckCallContext(fcinfo, NULL) ? PG_GETARG_ARRAYTYPE_P(0) :
		PG_GETARG_ARRAYTYPE_P_COPY(0);
	b = PG_GETARG_ARRAYTYPE_P(1);
	n = counts_length(a);
	if (counts_length(b) != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("funnel_counts steps must be the same on every row (%d, then %d)",
						n, counts_length(b))));
	ca = (int64 *) ARR_DATA_PTR(a);
	cb = (int64 *) ARR_DATA_PTR(b);
	for (k = 0; k < n; k++)
		if (pg_add_s64_overflow(ca[k], cb[k], &ca[k]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("funnel_counts count out of range")));
	PG_RETURN_ARRAYTYPE_P(a);
}
