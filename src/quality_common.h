/*-------------------------------------------------------------------------
 *
 * quality_common.h
 *	  Helpers shared by the data-quality aggregates (quality_*.c).
 *
 * The quality aggregates keep concrete, SQL-visible state types (varlena
 * types with send/receive) rather than "internal", so that Citus and other
 * engines can aggregate them partially on their workers.  During
 * aggregation a state lives as an expanded object in a child context of the
 * aggregate context: the transition function appends to it in place and
 * returns the same read-write pointer, so a row costs an append, not a copy.
 * Flattening (for parallel workers, storage or output) writes the compact,
 * versioned on-disk form.
 *
 * src/quality_common.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUALITY_COMMON_H
#define QUALITY_COMMON_H

#include "fmgr.h"
#include "datatype/timestamp.h"
#include "utils/expandeddatum.h"

/* First byte after the varlena header of every flat quality state. */
#define QUALITY_STATE_VERSION 1

/* Raise an error for an infinite timestamp argument. */
extern void quality_check_finite(TimestampTz t, const char *what);

/*
 * An interval as microseconds, with the 30-day month and 24-hour day that
 * interval comparison uses, so "a - b <= iv" in SQL and "usec(a - b) <=
 * quality_interval_usec(iv)" agree.
 */
extern int64 quality_interval_usec(const Interval *iv, const char *what);

/* Microseconds as an interval, shaped the way timestamptz - timestamptz is. */
extern Interval *quality_usec_interval(int64 usec);

/* The aggregate memory context, or an error naming the function. */
extern MemoryContext quality_agg_context(FunctionCallInfo fcinfo, const char *fname);

/* A fresh memory context, child of parent, to hold one expanded state. */
extern MemoryContext quality_state_context(MemoryContext parent);

/* The expanded header behind d when d is an expanded object with methods m. */
extern ExpandedObjectHeader *quality_expanded(Datum d, const ExpandedObjectMethods *m);

/*
 * Make room for need elements of size elemsize in *ptr (capacity *cap),
 * doubling, in context cxt.
 */
extern void quality_reserve(void **ptr, int32 *cap, int64 need, Size elemsize,
							MemoryContext cxt);

/* Error for a corrupt or foreign flat state. */
extern void quality_corrupt(const char *type_name, const char *detail) pg_attribute_noreturn();

#endif							/* QUALITY_COMMON_H */
