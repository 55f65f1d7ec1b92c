/*-------------------------------------------------------------------------
 *
 * strpool.h
 *	  Interned strings for per-group aggregate states.
 *
 * A group (one user) usually emits millions of events but only a handful of
 * distinct step labels.  The pool stores each distinct label once, in one
 * growing byte arena, and hands out dense 32-bit ids; aggregate records then
 * carry the id instead of the string.  Lookup is an open-addressing hash
 * table over the ids (PostgreSQL's hash_bytes), so interning is O(length)
 * expected per call and nothing is palloc'd per row once the arrays have
 * grown.  All memory lives in the context given to strpool_init.
 *
 * src/strpool.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef APIVALUE_STRPOOL_H
#define APIVALUE_STRPOOL_H

typedef struct StrPoolEntry
{
	uint64		off;			/* offset of the bytes in the arena */
	uint32		len;			/* length in bytes */
	uint32		hash;			/* hash_bytes of the bytes */
} StrPoolEntry;

typedef struct StrPool
{
	MemoryContext cxt;
	char	   *data;			/* arena of string bytes, not terminated */
	uint64		used;
	uint64		cap;
	StrPoolEntry *entries;		/* id -> entry */
	uint32		n;
	uint32		ecap;
	uint32	   *slots;			/* 0 = empty, else id + 1 */
	uint32		nslots;			/* power of two, or 0 before first use */
} StrPool;

#define STRPOOL_NONE PG_UINT32_MAX

extern void strpool_init(StrPool *pool, MemoryContext cxt);

/* The id of s[0..len), adding it when new. */
extern uint32 strpool_intern(StrPool *pool, const char *s, uint32 len);

/* The id of s[0..len), or STRPOOL_NONE when it is not in the pool. */
extern uint32 strpool_lookup(const StrPool *pool, const char *s, uint32 len);

/* Bytes and length of an id (no terminating zero). */
static inline const char *
strpool_get(const StrPool *pool, uint32 id, uint32 *len)
{
	*len = pool->entries[id].len;
	return pool->data + pool->entries[id].off;
}

#endif							/* APIVALUE_STRPOOL_H */
