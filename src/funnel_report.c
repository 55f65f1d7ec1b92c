/*-------------------------------------------------------------------------
 *
 * funnel_report.c
 *	  _funnel_report_chains: the per-user aggregate behind funnel_report.
 *
 * One scan of the events feeds this aggregate, grouped by user; funnel_report
 * filters the scan to the rows matching a step or an exclusion (all rows in
 * strict_order mode, where the others interrupt a chain).  The state is the
 * user's events in the shared event buffer (event_buffer.h): step events as
 * (ts, step bits, breakdown id) records and exclusion events in a second
 * buffer.  The breakdown values are interned in one string pool per call
 * site (strpool.h), shared by all users' states with the parsed
 * configuration, so a user costs two small buffers and no per-user pool.
 * The final function sorts once and finds the user's chain(s):
 *
 *	 - ordered, 'unique' counting: ClickHouse's slot search of funnel.h
 *	   (av_funnel_run, the same code as window_funnel) over the mandatory
 *	   steps; optional steps are then filled in greedily between the chain's
 *	   mandatory steps (they never change which chain is best);
 *	 - ordered, 'total' counting: every step-1 event opens an attempt, and
 *	   each later event credits the earliest open attempt that can use it;
 *	 - 'any_order': the window (starting at a step event) holding the most
 *	   distinct steps, the earliest such start among equals.
 *
 * Each chain is then checked against the exclusions (an exclusion event
 * strictly after the chain's step a and before its step b, or up to the end
 * of the window when b was not reached) and turned into rows of
 * apivalue.funnel_chain_step: one per step the chain includes, with the
 * time from the chain's previous step and the attributed breakdown value,
 * or one "excluded" row.  funnel_report (sql/product.sql) groups those rows.
 *
 * The parameters arrive as one constant bigint[] built by funnel_report:
 *	 [version, nsteps, nexcl, window_usec, modes, any_order, total,
 *	  attribution, optional_mask, lo_1, hi_1, ..., lo_nexcl, hi_nexcl]
 * with attribution -2 = first_touch, -1 = last_touch, N = step:N.
 *
 * Cost: O(n log n) for the sort (skipped when rows arrive in order), O(n)
 * for the chain search, O(n * open attempts) in 'total' counting.
 *
 * src/funnel_report.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "funnel.h"
#include "strpool.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

PG_FUNCTION_INFO_V1(apivalue_funnel_report_accum);
PG_FUNCTION_INFO_V1(apivalue_funnel_report_combine);
PG_FUNCTION_INFO_V1(apivalue_funnel_report_serialize);
PG_FUNCTION_INFO_V1(apivalue_funnel_report_deserialize);
PG_FUNCTION_INFO_V1(apivalue_funnel_report_final);

#define FR_CONFIG_VERSION	1
#define FR_STATE_VERSION	1
#define FR_ATTR_FIRST		(-2)
#define FR_ATTR_LAST		(-1)
#define FR_CONFIG_FIXED		9

typedef struct FrConfig
{
	int32		nsteps;
	int32		nexcl;
	int64		window;
	uint32		modes;
	int32		any_order;
	int32		total;
	int32		attribution;	/* FR_ATTR_FIRST, FR_ATTR_LAST or a step */
	uint32		optional;		/* bit k: step k+1 is optional */
	int32		excl_lo[AV_MAX_CONDITIONS]; /* 0-based step range */
	int32		excl_hi[AV_MAX_CONDITIONS];
} FrConfig;

/*
 * A user's state.  The configuration and the pool of breakdown values are
 * shared by every group of a call site (they live in the call site's
 * FrCallInfo, which outlives the groups): a group then costs its two event
 * buffers and nothing else, and a breakdown value such as a plan name is
 * stored once per call site, not once per user.
 */
typedef struct FrState
{
	const FrConfig *cfg;
	StrPool    *pool;			/* breakdown values (shared) */
	AvEventBuffer steps;		/* bits: steps; aux: breakdown id */
	AvEventBuffer excl;			/* bits: exclusions */
} FrState;

/* Per call site: the parsed configuration, the value pool, the row type. */
typedef struct FrCallInfo
{
	Datum		cfg_datum;
	bool		have_cfg;
	FrConfig	cfg;
	StrPool		pool;			/* breakdown values of this call site's states */
	uint32		last_id;		/* id of the last value interned */
	TupleDesc	tupdesc;		/* final function: funnel_chain_step */
	Oid			elemtype;
	int64	   *scratch;		/* final function work space */
	int64		scratch_bytes;
} FrCallInfo;

/* One chain: steps (or any_order positions) it includes, with times. */
typedef struct FrChain
{
	uint32		included;
	int64		start;
	int64		times[AV_MAX_CONDITIONS];
	uint32		aux[AV_MAX_CONDITIONS];	/* breakdown id at each step */
	uint32		bd;				/* attributed breakdown id */
} FrChain;

static void
not_aggregate(const char *fn)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("%s can only be called as part of an aggregate", fn)));
}

static void
bad_config(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid funnel_report configuration"),
			 errdetail("%s", detail),
			 errhint("Call apivalue.funnel_report(...) rather than the internal aggregate.")));
}

/* Check a configuration's fields (from an array or a serialized state). */
static void
check_config(const FrConfig *c)
{
	int			i;

	if (c->nsteps < 1 || c->nsteps > AV_MAX_CONDITIONS ||
		c->nexcl < 0 || c->nexcl > AV_MAX_CONDITIONS)
		bad_config("The number of steps or exclusions is out of range.");
	if (c->window < 0)
		bad_config("The window is negative.");
	if ((c->modes & ~AV_FUNNEL_ALL_MODES) != 0)
		bad_config("Unknown mode bits.");
	if ((c->any_order != 0 && c->any_order != 1) ||
		(c->total != 0 && c->total != 1))
		bad_config("Bad order or counting flag.");
	if (c->attribution != FR_ATTR_FIRST && c->attribution != FR_ATTR_LAST &&
		(c->attribution < 1 || c->attribution > c->nsteps))
		bad_config("Bad attribution.");
	if ((c->optional & 1) != 0 ||
		(c->nsteps < 32 && (c->optional >> c->nsteps) != 0))
		bad_config("Bad optional steps.");
	if (c->any_order && (c->optional != 0 || c->modes != 0 || c->total))
		bad_config("any_order takes no modes, optional steps or total counting.");
	if (c->total && (c->modes & ~AV_FUNNEL_STRICT_INCREASE) != 0)
		bad_config("total counting takes only the strict_increase mode.");
	for (i = 0; i < c->nexcl; i++)
		if (c->excl_lo[i] < 0 || c->excl_hi[i] >= c->nsteps ||
			c->excl_lo[i] >= c->excl_hi[i])
			bad_config("An exclusion range is outside the steps.");
}

/* Parse the configuration array. */
static void
parse_config(ArrayType *arr, FrConfig *c)
{
	int64	   *v;
	int			n;
	int			i;

	if (ARR_NDIM(arr) != 1 || ARR_HASNULL(arr) || ARR_ELEMTYPE(arr) != INT8OID)
		bad_config("The configuration is a one-dimensional bigint[] without NULLs.");
	n = ARR_DIMS(arr)[0];
	v = (int64 *) ARR_DATA_PTR(arr);
	if (n < FR_CONFIG_FIXED || v[0] != FR_CONFIG_VERSION)
		bad_config("Unknown configuration version.");
	memset(c, 0, sizeof(FrConfig));
	if (v[1] < 1 || v[1] > AV_MAX_CONDITIONS || v[2] < 0 || v[2] > AV_MAX_CONDITIONS)
		bad_config("The number of steps or exclusions is out of range.");
	c->nsteps = (int32) v[1];
	c->nexcl = (int32) v[2];
	c->window = v[3];
	if (v[4] < 0 || v[4] > AV_FUNNEL_ALL_MODES || v[7] < -2 || v[7] > 32 ||
		v[8] < 0 || v[8] > PG_UINT32_MAX)
		bad_config("A field is out of range.");
	c->modes = (uint32) v[4];
	c->any_order = (int32) v[5];
	c->total = (int32) v[6];
	c->attribution = (int32) v[7];
	c->optional = (uint32) v[8];
	if (n != FR_CONFIG_FIXED + 2 * c->nexcl)
		bad_config("The configuration does not have one range per exclusion.");
	for (i = 0; i < c->nexcl; i++)
	{
		int64		lo = v[FR_CONFIG_FIXED + 2 * i];
		int64		hi = v[FR_CONFIG_FIXED + 2 * i + 1];

		if (lo < 1 || hi > c->nsteps || lo >= hi)
			bad_config("An exclusion range is outside the steps.");
		c->excl_lo[i] = (int32) lo - 1;
		c->excl_hi[i] = (int32) hi - 1;
	}
	check_config(c);
}

/* The call site's information, created on first use. */
static FrCallInfo *
call_info(FunctionCallInfo fcinfo)
{
	FrCallInfo *info = (FrCallInfo *) fcinfo->flinfo->fn_extra;

	if (info == NULL)
	{
		info = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FrCallInfo));
		strpool_init(&info->pool, fcinfo->flinfo->fn_mcxt);
		info->last_id = STRPOOL_NONE;
		fcinfo->flinfo->fn_extra = info;
	}
	return info;
}

/*
 * Transition: _funnel_report_chains(config, ts, breakdown, steps...,
 * exclusions...).  The conditions' types are checked once per call site.
 */
Datum
apivalue_funnel_report_accum(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	MemoryContext old;
	FrCallInfo *info;
	FrState    *state;
	FrConfig   *cfg;
	int64		ts;
	uint32		sbits = 0;
	uint32		xbits = 0;
	int			k;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		not_aggregate("apivalue_funnel_report_accum");
	info = call_info(fcinfo);
	if (PG_ARGISNULL(1))
		bad_config("The configuration is NULL.");
	if (!info->have_cfg || info->cfg_datum != PG_GETARG_DATUM(1))
	{
		FrConfig	c;

		parse_config(PG_GETARG_ARRAYTYPE_P(1), &c);
		if (PG_NARGS() != 4 + c.nsteps + c.nexcl)
			bad_config("The number of conditions does not match the configuration.");
		if (!info->have_cfg)
		{
			for (k = 4; k < PG_NARGS(); k++)
				if (get_fn_expr_argtype(fcinfo->flinfo, k) != BOOLOID)
					ereport(ERROR,
							(errcode(ERRCODE_DATATYPE_MISMATCH),
							 errmsg("funnel_report condition %d must be boolean, not %s",
									k - 3,
									format_type_be(get_fn_expr_argtype(fcinfo->flinfo, k)))));
		}
		else if (memcmp(&c, &info->cfg, sizeof(FrConfig)) != 0)
			bad_config("The configuration changed between rows.");
		info->cfg = c;
		info->cfg_datum = PG_GETARG_DATUM(1);
		info->have_cfg = true;
	}
	cfg = &info->cfg;
	state = PG_ARGISNULL(0) ? NULL : (FrState *) PG_GETARG_POINTER(0);
	if (state == NULL)
	{
		state = MemoryContextAlloc(aggctx, sizeof(FrState));
		state->cfg = cfg;
		state->pool = &info->pool;
		av_events_init(&state->steps);
		av_events_init(&state->excl);
	}
	if (PG_ARGISNULL(2))
		PG_RETURN_POINTER(state);
	ts = av_timestamp_arg(PG_GETARG_TIMESTAMPTZ(2));

	for (k = 0; k < cfg->nsteps; k++)
		if (!PG_ARGISNULL(4 + k) && PG_GETARG_BOOL(4 + k))
			sbits |= (uint32) 1 << k;
	for (k = 0; k < cfg->nexcl; k++)
		if (!PG_ARGISNULL(4 + cfg->nsteps + k) &&
			PG_GETARG_BOOL(4 + cfg->nsteps + k))
			xbits |= (uint32) 1 << k;

	if (sbits != 0 ||
		(!cfg->any_order && !cfg->total && (cfg->modes & AV_FUNNEL_STRICT_ORDER)))
	{
		uint32		id = STRPOOL_NONE;

		if (sbits != 0 && !PG_ARGISNULL(3))
		{
			text	   *t = PG_GETARG_TEXT_PP(3);
			const char *p = VARDATA_ANY(t);
			uint32		len = VARSIZE_ANY_EXHDR(t);
			uint32		lastlen;

			/* rows repeat few values: compare with the last one first */
			if (info->last_id != STRPOOL_NONE &&
				(strpool_get(&info->pool, info->last_id, &lastlen), lastlen == len) &&
				memcmp(strpool_get(&info->pool, info->last_id, &lastlen), p, len) == 0)
				id = info->last_id;
			else
			{
				id = strpool_intern(&info->pool, p, len);
				info->last_id = id;
			}
		}
		old = MemoryContextSwitchTo(aggctx);
		av_events_append(&state->steps, ts, sbits, id);
		MemoryContextSwitchTo(old);
	}
	if (xbits != 0)
	{
		old = MemoryContextSwitchTo(aggctx);
		av_events_append(&state->excl, ts, xbits, 0);
		MemoryContextSwitchTo(old);
	}
	PG_RETURN_POINTER(state);
}

/*
 * Add src's records to dst (dst's memory context current), translating
 * breakdown ids when the two states use different pools (states of
 * different call sites: accumulated here, deserialized from a worker).
 */
static void
merge_into(FrState *dst, const FrState *src)
{
	int64		i;

	if (src->pool == dst->pool)
		av_events_merge(&dst->steps, &src->steps);
	else
	{
		uint32		last_src = STRPOOL_NONE;
		uint32		last_dst = STRPOOL_NONE;

		av_events_grow(&dst->steps, dst->steps.nevents + src->steps.nevents);
		for (i = 0; i < src->steps.nevents; i++)
		{
			const AvEvent *e = &src->steps.events[i];
			uint32		id = STRPOOL_NONE;

			if (e->aux != STRPOOL_NONE)
			{
				if (e->aux != last_src)
				{
					uint32		len;
					const char *p = strpool_get(src->pool, e->aux, &len);

					last_src = e->aux;
					last_dst = strpool_intern(dst->pool, p, len);
				}
				id = last_dst;
			}
			av_events_append(&dst->steps, e->ts, e->bits, id);
		}
	}
	av_events_merge(&dst->excl, &src->excl);
}

Datum
apivalue_funnel_report_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	MemoryContext old;
	FrState    *s1;
	FrState    *s2;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		not_aggregate("apivalue_funnel_report_combine");
	s1 = PG_ARGISNULL(0) ? NULL : (FrState *) PG_GETARG_POINTER(0);
	s2 = PG_ARGISNULL(1) ? NULL : (FrState *) PG_GETARG_POINTER(1);
	if (s2 == NULL)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	old = MemoryContextSwitchTo(aggctx);
	if (s1 == NULL)
	{
		s1 = palloc(sizeof(FrState));
		s1->cfg = s2->cfg;
		s1->pool = s2->pool;
		av_events_init(&s1->steps);
		av_events_init(&s1->excl);
	}
	else if (s1->cfg != s2->cfg && memcmp(s1->cfg, s2->cfg, sizeof(FrConfig)) != 0)
		bad_config("Partial states have different configurations.");
	merge_into(s1, s2);
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(s1);
}

/* qsort comparator for breakdown ids */
static int
cmp_uint32(const void *a, const void *b)
{
	uint32		x = *(const uint32 *) a;
	uint32		y = *(const uint32 *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * Serialized form: version byte, configuration, step records, exclusion
 * records, then the strings the step records use (count, then length +
 * bytes each); the records' breakdown ids are indexes into those strings.
 */
Datum
apivalue_funnel_report_serialize(PG_FUNCTION_ARGS)
{
	FrState    *s;
	Size		size;
	bytea	   *out;
	char	   *p;
	char	   *recs;
	uint32	   *ids;
	uint32		n = 0;
	uint32		k;
	int64		i;

	if (!AggCheckCallContext(fcinfo, NULL))
		not_aggregate("apivalue_funnel_report_serialize");
	s = (FrState *) PG_GETARG_POINTER(0);

	/* the distinct ids the records use, sorted */
	ids = palloc_extended(Max(s->steps.nevents, 1) * sizeof(uint32), MCXT_ALLOC_HUGE);
	for (i = 0; i < s->steps.nevents; i++)
		if (s->steps.events[i].aux != STRPOOL_NONE)
			ids[n++] = s->steps.events[i].aux;
	if (n > 1)
	{
		uint32		m = 1;

		qsort(ids, n, sizeof(uint32), cmp_uint32);
		for (k = 1; k < n; k++)
			if (ids[k] != ids[m - 1])
				ids[m++] = ids[k];
		n = m;
	}

	size = VARHDRSZ + 1 + sizeof(FrConfig) +
		av_events_serialized_size(&s->steps) +
		av_events_serialized_size(&s->excl) + sizeof(uint32);
	for (k = 0; k < n; k++)
		size += sizeof(uint32) + s->pool->entries[ids[k]].len;
	out = palloc_extended(size, MCXT_ALLOC_HUGE);
	SET_VARSIZE(out, size);
	p = VARDATA(out);
	*p++ = FR_STATE_VERSION;
	memcpy(p, s->cfg, sizeof(FrConfig));
	p += sizeof(FrConfig);
	recs = p + sizeof(int64);
	p = av_events_serialize(&s->steps, p);
	/* ids as indexes into the strings written below (unaligned: memcpy) */
	for (i = 0; i < s->steps.nevents; i++)
	{
		uint32		aux = s->steps.events[i].aux;

		if (aux != STRPOOL_NONE)
		{
			uint32	   *hit = bsearch(&aux, ids, n, sizeof(uint32), cmp_uint32);

			Assert(hit != NULL);
			aux = (uint32) (hit - ids);
			memcpy(recs + i * sizeof(AvEvent) + offsetof(AvEvent, aux), &aux, sizeof(uint32));
		}
	}
	p = av_events_serialize(&s->excl, p);
	memcpy(p, &n, sizeof(uint32));
	p += sizeof(uint32);
	for (k = 0; k < n; k++)
	{
		uint32		len;
		const char *str = strpool_get(s->pool, ids[k], &len);

		memcpy(p, &len, sizeof(uint32));
		p += sizeof(uint32);
		memcpy(p, str, len);
		p += len;
	}
	Assert(p == (char *) out + size);
	pfree(ids);
	PG_RETURN_BYTEA_P(out);
}

static void
bad_state(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid funnel_report state: %s", what)));
}

/*
 * Deserialize, checking every count against the bytes that are there.  The
 * strings go into this call site's pool, the configuration into its
 * FrCallInfo (one per call site: every state of one query carries the same).
 */
Datum
apivalue_funnel_report_deserialize(PG_FUNCTION_ARGS)
{
	MemoryContext aggctx;
	MemoryContext old;
	FrCallInfo *info = call_info(fcinfo);
	bytea	   *in;
	const char *p;
	const char *end;
	FrState    *s;
	FrConfig	c;
	uint32		n;
	uint32		id;
	uint32	   *map;
	int64		i;
	uint32		allsteps;
	uint32		allexcl;

	if (!AggCheckCallContext(fcinfo, &aggctx))
		not_aggregate("apivalue_funnel_report_deserialize");
	in = PG_GETARG_BYTEA_PP(0);
	p = VARDATA_ANY(in);
	end = p + VARSIZE_ANY_EXHDR(in);
	if (end - p < (ptrdiff_t) (1 + sizeof(FrConfig)))
		bad_state("truncated header");
	if (*p != FR_STATE_VERSION)
		bad_state("unknown version");
	p++;
	memcpy(&c, p, sizeof(FrConfig));
	p += sizeof(FrConfig);
	check_config(&c);
	if (!info->have_cfg)
	{
		info->cfg = c;
		info->have_cfg = true;
	}
	else if (memcmp(&c, &info->cfg, sizeof(FrConfig)) != 0)
		bad_state("partial states have different configurations");
	old = MemoryContextSwitchTo(aggctx);
	s = palloc(sizeof(FrState));
	s->cfg = &info->cfg;
	s->pool = &info->pool;
	av_events_init(&s->steps);
	av_events_init(&s->excl);
	p = av_events_deserialize(&s->steps, p, end);
	p = av_events_deserialize(&s->excl, p, end);
	MemoryContextSwitchTo(old);
	if (end - p < (ptrdiff_t) sizeof(uint32))
		bad_state("truncated string count");
	memcpy(&n, p, sizeof(uint32));
	p += sizeof(uint32);
	if (n > (uint32) ((end - p) / sizeof(uint32)))
		bad_state("string count larger than the data");
	map = palloc(Max(n, 1) * sizeof(uint32));
	for (id = 0; id < n; id++)
	{
		uint32		len;

		if (end - p < (ptrdiff_t) sizeof(uint32))
			bad_state("truncated string");
		memcpy(&len, p, sizeof(uint32));
		p += sizeof(uint32);
		if ((uint64) len > (uint64) (end - p))
			bad_state("truncated string");
		map[id] = strpool_intern(&info->pool, p, len);
		p += len;
	}
	if (p != end)
		bad_state("trailing bytes");
	allsteps = c.nsteps == 32 ? PG_UINT32_MAX : (((uint32) 1 << c.nsteps) - 1);
	allexcl = c.nexcl == 32 ? PG_UINT32_MAX : (((uint32) 1 << c.nexcl) - 1);
	for (i = 0; i < s->steps.nevents; i++)
	{
		AvEvent    *e = &s->steps.events[i];

		if ((e->bits & ~allsteps) != 0 ||
			(e->aux != STRPOOL_NONE && e->aux >= n))
			bad_state("bad step record");
		if (e->aux != STRPOOL_NONE)
			e->aux = map[e->aux];
	}
	pfree(map);
	for (i = 0; i < s->excl.nevents; i++)
		if ((s->excl.events[i].bits & ~allexcl) != 0 || s->excl.events[i].bits == 0)
			bad_state("bad exclusion record");
	PG_RETURN_POINTER(s);
}

/* Compare two breakdown ids by their strings, NULL (none) last. */
static int
cmp_ids(const StrPool *pool, uint32 a, uint32 b)
{
	uint32		la;
	uint32		lb;
	const char *pa;
	const char *pb;
	int			c;

	if (a == b)
		return 0;
	if (a == STRPOOL_NONE)
		return 1;
	if (b == STRPOOL_NONE)
		return -1;
	pa = strpool_get(pool, a, &la);
	pb = strpool_get(pool, b, &lb);
	c = memcmp(pa, pb, Min(la, lb));
	if (c != 0)
		return c;
	return la < lb ? -1 : (la > lb ? 1 : 0);
}

/* Index of the first record with ts >= t (records sorted by ts). */
static int64
lower_bound(const AvEvent *ev, int64 n, int64 t)
{
	int64		lo = 0;
	int64		hi = n;

	while (lo < hi)
	{
		int64		mid = lo + (hi - lo) / 2;

		if (ev[mid].ts < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Breakdown id of the step event that a chain used at time t for step
 * index k: among the records at t having the step, the smallest value, so
 * the answer does not depend on the order rows arrived in.
 */
static uint32
aux_at(const FrState *s, int64 t, int k)
{
	const AvEvent *ev = s->steps.events;
	int64		n = s->steps.nevents;
	int64		i = lower_bound(ev, n, t);
	uint32		best = STRPOOL_NONE;
	bool		found = false;

	for (; i < n && ev[i].ts == t; i++)
		if (ev[i].bits & ((uint32) 1 << k))
		{
			if (!found || cmp_ids(s->pool, ev[i].aux, best) < 0)
				best = ev[i].aux;
			found = true;
		}
	return best;
}

/* Window end of a chain starting at start, saturating. */
static inline int64
window_end(int64 start, int64 window)
{
	int64		end;

	if (pg_add_s64_overflow(start, window, &end))
		return PG_INT64_MAX;
	return end;
}

/* Work space of at least bytes, kept per call site across groups. */
static void *
scratch(FunctionCallInfo fcinfo, FrCallInfo *info, int64 bytes)
{
	if (info->scratch_bytes < bytes)
	{
		int64		want = Max(bytes, 2 * info->scratch_bytes);

		if (info->scratch)
			pfree(info->scratch);
		info->scratch = MemoryContextAllocHuge(fcinfo->flinfo->fn_mcxt, want);
		info->scratch_bytes = want;
	}
	return info->scratch;
}

/*
 * Ordered, unique counting: the best chain of the slot search over the
 * mandatory steps, optional steps filled in between.  Returns false when the
 * user never did step 1.
 */
static bool
chain_ordered(FunctionCallInfo fcinfo, FrCallInfo *info, const FrState *s,
			  FrChain *c)
{
	const FrConfig *cfg = s->cfg;
	const AvEvent *ev = s->steps.events;
	int64		n = s->steps.nevents;
	int64		mtimes[AV_MAX_CONDITIONS];
	int			pos[AV_MAX_CONDITIONS];
	int			nmand = 0;
	int			level;
	int			k;
	uint32		mand;

	c->included = 0;
	if (cfg->optional == 0)
	{
		level = av_funnel_run(ev, n, cfg->nsteps, cfg->window, cfg->modes, mtimes);
		for (k = 0; k < level; k++)
		{
			c->included |= (uint32) 1 << k;
			c->times[k] = mtimes[k];
			c->aux[k] = STRPOOL_NONE;
		}
		if (level == 0)
			return false;
		c->start = c->times[0];
		return true;
	}

	/* mandatory steps only, renumbered 0..nmand-1 */
	mand = (cfg->nsteps == 32 ? PG_UINT32_MAX : (((uint32) 1 << cfg->nsteps) - 1)) &
		~cfg->optional;
	for (k = 0; k < cfg->nsteps; k++)
		if (mand & ((uint32) 1 << k))
			pos[nmand++] = k;
	{
		AvEvent    *m = scratch(fcinfo, info, Max(n, 1) * sizeof(AvEvent));
		int64		nm = 0;
		int64		i;

		for (i = 0; i < n; i++)
		{
			uint32		b = ev[i].bits;
			uint32		mb = 0;
			int			j;

			if (b != 0)
			{
				if ((b & mand) == 0)
					continue;	/* optional steps only: not an interruption */
				for (j = 0; j < nmand; j++)
					if (b & ((uint32) 1 << pos[j]))
						mb |= (uint32) 1 << j;
			}
			m[nm].ts = ev[i].ts;
			m[nm].bits = mb;
			m[nm].aux = 0;
			nm++;
		}
		level = av_funnel_run(m, nm, nmand, cfg->window, cfg->modes, mtimes);
	}
	if (level == 0)
		return false;
	for (k = 0; k < level; k++)
	{
		c->included |= (uint32) 1 << pos[k];
		c->times[pos[k]] = mtimes[k];
		c->aux[pos[k]] = STRPOOL_NONE;
	}
	c->start = mtimes[0];

	/* fill optional steps greedily, in step order */
	{
		int64		end = window_end(c->start, cfg->window);
		int64		prev = c->start;
		bool		strict = (cfg->modes & AV_FUNNEL_STRICT_INCREASE) != 0;

		for (k = 1; k < cfg->nsteps; k++)
		{
			uint32		bit = (uint32) 1 << k;
			int64		upper = end;
			bool		upper_strict = false;
			int			j;
			int64		i;

			if (mand & bit)
			{
				if (!(c->included & bit))
					break;		/* the chain stopped before this step */
				prev = c->times[k];
				continue;
			}
			for (j = k + 1; j < cfg->nsteps; j++)
				if (c->included & mand & ((uint32) 1 << j))
				{
					upper = c->times[j];
					upper_strict = strict;
					break;
				}
				else if (mand & ((uint32) 1 << j))
					break;
			for (i = lower_bound(ev, n, prev); i < n && ev[i].ts <= upper; i++)
			{
				if (!(ev[i].bits & bit))
					continue;
				if (strict && ev[i].ts <= prev)
					continue;
				if (upper_strict && ev[i].ts >= upper)
					break;
				c->included |= bit;
				c->times[k] = ev[i].ts;
				c->aux[k] = aux_at(s, ev[i].ts, k);
				prev = ev[i].ts;
				break;
			}
		}
	}
	return true;
}

/*
 * any_order: the window [t, t + window], t the time of a step event,
 * holding the most distinct steps; the earliest such start among equals.
 * The chain's positions are its distinct steps in order of their first
 * event in the window.  Returns false without step events.
 */
static bool
chain_any_order(const FrState *s, FrChain *c)
{
	const FrConfig *cfg = s->cfg;
	const AvEvent *ev = s->steps.events;
	int64		n = s->steps.nevents;
	int			cnt[AV_MAX_CONDITIONS];
	int			distinct = 0;
	int			best_n = 0;
	int64		best = -1;
	int64		i;
	int64		j = 0;
	int64		firstt[AV_MAX_CONDITIONS];
	int			order[AV_MAX_CONDITIONS];
	int			no = 0;
	int64		end;
	int			k;

	if (n == 0)
		return false;
	memset(cnt, 0, sizeof(cnt));
	for (i = 0; i < n; i++)
	{
		uint32		b;
		int64		wend = window_end(ev[i].ts, cfg->window);

		while (j < n && ev[j].ts <= wend)
		{
			for (b = ev[j].bits; b; b &= b - 1)
				if (cnt[__builtin_ctz(b)]++ == 0)
					distinct++;
			j++;
		}
		if (distinct > best_n)
		{
			best_n = distinct;
			best = i;
			if (best_n == cfg->nsteps)
				break;
		}
		for (b = ev[i].bits; b; b &= b - 1)
			if (--cnt[__builtin_ctz(b)] == 0)
				distinct--;
	}
	end = window_end(ev[best].ts, cfg->window);
	for (k = 0; k < cfg->nsteps; k++)
		firstt[k] = -1;
	for (i = best; i < n && ev[i].ts <= end; i++)
	{
		uint32		b;

		for (b = ev[i].bits; b; b &= b - 1)
		{
			k = __builtin_ctz(b);
			if (firstt[k] < 0)
			{
				firstt[k] = ev[i].ts;
				order[no++] = k;
			}
		}
	}
	/* records are in (ts, lowest condition) order, so order[] is too */
	c->included = 0;
	c->start = ev[best].ts;
	for (k = 0; k < no; k++)
	{
		c->included |= (uint32) 1 << k;
		c->times[k] = firstt[order[k]];
		c->aux[k] = aux_at(s, firstt[order[k]], order[k]);
	}
	/* the start event's own value for first touch */
	c->aux[0] = aux_at(s, ev[best].ts, __builtin_ctz(ev[best].bits));
	return true;
}

/* Highest included index of a chain (included != 0). */
static inline int
highest(uint32 included)
{
	return 31 - __builtin_clz(included);
}

/*
 * Is the chain excluded?  Exclusion i hits when an event matching it lies
 * strictly after the chain's step lo_i (or the latest included step before
 * it) and strictly before its step hi_i (the earliest included step at or
 * after it), or up to the end of the window (inclusive) when the chain did
 * not get that far.  A chain that never reached lo_i cannot be excluded.
 */
static bool
chain_excluded(const FrState *s, const FrChain *c)
{
	const FrConfig *cfg = s->cfg;
	const AvEvent *xe = s->excl.events;
	int64		nx = s->excl.nevents;
	int			top = highest(c->included);
	int			i;

	if (nx == 0)
		return false;
	for (i = 0; i < cfg->nexcl; i++)
	{
		int			a = cfg->excl_lo[i];
		int			b = cfg->excl_hi[i];
		int64		lo_t = 0;
		int64		hi_t;
		bool		hi_incl = true;
		int			k;
		int64		j;

		if (a > top)
			continue;
		for (k = a; k >= 0; k--)
			if (c->included & ((uint32) 1 << k))
			{
				lo_t = c->times[k];
				break;
			}
		hi_t = window_end(c->start, cfg->window);
		for (k = b; k <= top; k++)
			if (c->included & ((uint32) 1 << k))
			{
				hi_t = c->times[k];
				hi_incl = false;
				break;
			}
		for (j = lower_bound(xe, nx, lo_t); j < nx; j++)
		{
			if (xe[j].ts <= lo_t)
				continue;
			if (xe[j].ts > hi_t || (!hi_incl && xe[j].ts == hi_t))
				break;
			if (xe[j].bits & ((uint32) 1 << i))
				return true;
		}
	}
	return false;
}

/* Build the result rows of one chain into the output arrays. */
typedef struct FrOut
{
	Datum	   *elems;
	int			n;
	int			cap;
	TupleDesc	tupdesc;
} FrOut;

static void
out_row(FrOut *o, const StrPool *pool, uint32 bd, int step, bool has_gap,
		int64 gap, bool last, bool excluded)
{
	Datum		values[5];
	bool		nulls[5];
	HeapTuple	tup;

	if (o->n >= o->cap)
	{
		o->cap = o->cap ? o->cap * 2 : 16;
		o->elems = o->elems ? repalloc(o->elems, o->cap * sizeof(Datum)) :
			palloc(o->cap * sizeof(Datum));
	}
	memset(nulls, 0, sizeof(nulls));
	if (bd == STRPOOL_NONE)
	{
		nulls[0] = true;
		values[0] = (Datum) 0;
	}
	else
	{
		uint32		len;
		const char *p = strpool_get(pool, bd, &len);

		values[0] = PointerGetDatum(cstring_to_text_with_len(p, len));
	}
	if (step > 0)
		values[1] = Int32GetDatum(step);
	else
		nulls[1] = true;
	if (has_gap)
	{
		Interval   *iv = palloc(sizeof(Interval));

		iv->time = gap;
		iv->day = 0;
		iv->month = 0;
		values[2] = IntervalPGetDatum(iv);
	}
	else
		nulls[2] = true;
	values[3] = BoolGetDatum(last);
	values[4] = BoolGetDatum(excluded);
	tup = heap_form_tuple(o->tupdesc, values, nulls);
	o->elems[o->n++] = HeapTupleGetDatum(tup);
}

/*
 * Breakdown id of a chain whose aux[] holds the value of each included
 * step's event; step_aux is the value at step N for 'step:N' (any_order
 * keeps positions in aux[], not steps).
 */
static uint32
chain_bd(const FrConfig *cfg, const FrChain *c, uint32 step_aux)
{
	if (cfg->attribution == FR_ATTR_FIRST)
		return c->aux[0];
	if (cfg->attribution == FR_ATTR_LAST)
		return c->aux[highest(c->included)];
	return step_aux;
}

/* Check exclusions and emit one chain, labelled with breakdown id bd. */
static void
emit_chain(FrOut *o, const FrState *s, FrChain *c, uint32 bd)
{
	const FrConfig *cfg = s->cfg;
	int			top = highest(c->included);
	int			prev = -1;
	int			k;

	if (cfg->nexcl > 0 && chain_excluded(s, c))
	{
		out_row(o, s->pool, bd, 0, false, 0, false, true);
		return;
	}
	for (k = 0; k <= top; k++)
	{
		if (!(c->included & ((uint32) 1 << k)))
			continue;
		out_row(o, s->pool, bd, k + 1, prev >= 0, prev >= 0 ? c->times[k] - c->times[prev] : 0,
				k == top, false);
		prev = k;
	}
}

/* Fill in the breakdown ids a unique ordered chain needs. */
static uint32
attribute_ordered(const FrState *s, FrChain *c)
{
	const FrConfig *cfg = s->cfg;
	int			top = highest(c->included);
	int			k;

	if (cfg->attribution == FR_ATTR_FIRST)
		k = 0;
	else if (cfg->attribution == FR_ATTR_LAST)
		k = top;
	else
		k = cfg->attribution - 1;
	if (!(c->included & ((uint32) 1 << k)))
		return STRPOOL_NONE;
	if (c->aux[k] == STRPOOL_NONE)
		c->aux[k] = aux_at(s, c->times[k], k);
	return c->aux[k];
}

/*
 * 'total' counting: every step-1 event opens an attempt; every other step
 * event credits the earliest open attempt (by start) that can use it: the
 * attempt's next step, or a later one across optional steps, inside the
 * attempt's window (strictly later than its last step under
 * strict_increase).  One event credits at most one attempt; an event that
 * also matches step 1 opens a new attempt besides.
 */
static void
chains_total(FunctionCallInfo fcinfo, FrCallInfo *info, FrOut *o,
			 const FrState *s)
{
	const FrConfig *cfg = s->cfg;
	const AvEvent *ev = s->steps.events;
	int64		n = s->steps.nevents;
	FrChain    *att;
	int64		natt = 0;
	int64		nstarts = 0;
	int64		first_open = 0;
	int64		i;
	int64		a;
	bool		strict = (cfg->modes & AV_FUNNEL_STRICT_INCREASE) != 0;
	int			last_step = cfg->nsteps - 1;

	for (i = 0; i < n; i++)
		if (ev[i].bits & 1)
			nstarts++;
	if (nstarts == 0)
		return;
	att = scratch(fcinfo, info, nstarts * sizeof(FrChain));
	for (i = 0; i < n; i++)
	{
		uint32		bits = ev[i].bits;
		int64		ts = ev[i].ts;

		if (bits & ~(uint32) 1)
		{
			while (first_open < natt &&
				   (highest(att[first_open].included) == last_step ||
					(uint64) ts - (uint64) att[first_open].start > (uint64) cfg->window))
				first_open++;
			for (a = first_open; a < natt; a++)
			{
				FrChain    *c = &att[a];
				int			top = highest(c->included);
				int			k;

				if (top == last_step ||
					(uint64) ts - (uint64) c->start > (uint64) cfg->window ||
					(strict && ts <= c->times[top]))
					continue;
				for (k = top + 1; k < cfg->nsteps; k++)
				{
					if (bits & ((uint32) 1 << k))
						break;
					if (!(cfg->optional & ((uint32) 1 << k)))
					{
						k = cfg->nsteps;
						break;
					}
				}
				if (k < cfg->nsteps)
				{
					c->included |= (uint32) 1 << k;
					c->times[k] = ts;
					c->aux[k] = ev[i].aux;
					break;
				}
			}
		}
		if (bits & 1)
		{
			FrChain    *c = &att[natt++];

			c->included = 1;
			c->start = ts;
			c->times[0] = ts;
			c->aux[0] = ev[i].aux;
		}
	}
	for (a = 0; a < natt; a++)
	{
		FrChain    *c = &att[a];
		uint32		step_aux = STRPOOL_NONE;

		if (cfg->attribution > 0 &&
			(c->included & ((uint32) 1 << (cfg->attribution - 1))))
			step_aux = c->aux[cfg->attribution - 1];
		emit_chain(o, s, c, chain_bd(cfg, c, step_aux));
	}
}

/*
 * Final function: the user's chains as apivalue.funnel_chain_step[], or
 * NULL when the user never did step 1 (no chain).
 */
Datum
apivalue_funnel_report_final(PG_FUNCTION_ARGS)
{
	FrCallInfo *info = call_info(fcinfo);
	FrState    *s;
	FrOut		o;
	FrChain		c;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	s = (FrState *) PG_GETARG_POINTER(0);
	if (info->tupdesc == NULL)
	{
		Oid			rettype = get_fn_expr_rettype(fcinfo->flinfo);
		MemoryContext old;

		info->elemtype = OidIsValid(rettype) ? get_element_type(rettype) : InvalidOid;
		if (!OidIsValid(info->elemtype))
			elog(ERROR, "apivalue_funnel_report_final: unexpected result type");
		{
			TupleDesc	td = lookup_rowtype_tupdesc(info->elemtype, -1);

			old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
			info->tupdesc = CreateTupleDescCopy(td);
			MemoryContextSwitchTo(old);
			ReleaseTupleDesc(td);
		}
		BlessTupleDesc(info->tupdesc);
	}
	if (s->steps.nevents == 0)
		PG_RETURN_NULL();
	av_events_sort(&s->steps);
	av_events_sort(&s->excl);

	memset(&o, 0, sizeof(o));
	o.tupdesc = info->tupdesc;
	if (s->cfg->total)
		chains_total(fcinfo, info, &o, s);
	else if (s->cfg->any_order)
	{
		uint32		step_aux = STRPOOL_NONE;

		/* step:N is the chain's N-th distinct step, as the rows count them */
		if (chain_any_order(s, &c))
		{
			if (s->cfg->attribution > 0 &&
				(c.included & ((uint32) 1 << (s->cfg->attribution - 1))))
				step_aux = c.aux[s->cfg->attribution - 1];
			emit_chain(&o, s, &c, chain_bd(s->cfg, &c, step_aux));
		}
	}
	else if (chain_ordered(fcinfo, info, s, &c))
	{
		uint32		bd = attribute_ordered(s, &c);

		emit_chain(&o, s, &c, bd);
	}
	if (o.n == 0)
		PG_RETURN_NULL();
	PG_RETURN_ARRAYTYPE_P(construct_array(o.elems, o.n, info->elemtype, -1,
										  false, TYPALIGN_DOUBLE));
}
