/*-------------------------------------------------------------------------
 *
 * normalize.c
 *	  normalize_step(text): one spelling per step label, with ICU.
 *
 * Steps:
 *	 1. NFKC case folding (ICU's NFKC_Casefold normalizer): compatibility
 *		forms (full-width letters, ligatures, the ideographic space) become
 *		their plain forms, case is folded with the default (not Turkic) rules,
 *		and default-ignorable code points (zero-width space, soft hyphen) go.
 *	 2. White space (Unicode White_Space, asked of ICU) is trimmed at both
 *		ends and each inner run becomes one U+0020.
 *	 3. Id-like segments become "{id}".  Segments are the maximal runs of
 *		characters other than white space and / ? # & = ; , :  -- a
 *		segment is id-like when it is
 *		  (a) all ASCII digits, or
 *		  (b) a UUID: 8-4-4-4-12 hexadecimal digits, or
 *		  (c) 16 or more hexadecimal digits, or
 *		  (d) 8 or more characters from [a-z0-9_-] of which at least a
 *			  quarter are digits (object ids such as "ord_8f7a6b5c4d",
 *			  "a1b2c3d4e5"; not "oauth2_callback" or "utf8_to_utf16").
 *		Case was folded in step 1, so [a-z] covers both cases of the input.
 *
 * The result is idempotent: normalizing a normalized label changes nothing.
 * It depends on the Unicode version of the ICU library the extension was
 * built with, which is fixed per build (hence IMMUTABLE).
 *
 * src/normalize.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

PG_FUNCTION_INFO_V1(apivalue_normalize_step);

/*
 * Memo of recent labels, per call site (fn_extra): a direct-mapped table
 * from the input bytes to the result.  A column of endpoints repeats a few
 * thousand spellings millions of times; a hit costs a hash and a memcmp
 * instead of the normalization (three ICU passes, or the ASCII scans).
 * Only inputs up to MEMO_MAX_LEN bytes are kept.
 *
 * Labels with ids ("GET /items/6577") are many and seldom repeat: an entry
 * hit since it was stored is spared once by a colliding input (which is
 * then normalized without being stored), so such labels do not push the
 * frequent ones out.
 *
 * A hit returns the memo's own copy of the result, not a fresh palloc'd
 * one: like any function result it is read before the next row's call (a
 * node keeping values across rows copies them: hash and sort keys,
 * aggregate states, tuple stores).  Beyond that, the chunk the last call
 * returned is never overwritten nor freed by the next call (a replaced
 * entry's chunk is reused in place only when it was not the last one
 * returned, else set aside and freed at the next such replacement).
 */
#define MEMO_SLOTS		4096
#define MEMO_MAX_LEN	256

typedef struct MemoEntry
{
	char	   *buf;			/* one chunk: the result (a text), then the
								 * input bytes (NULL: empty slot) */
	int			cap;			/* the chunk's size */
	int			inlen;
	uint32		hash;
	bool		hit;			/* hit since it was stored or last spared */
} MemoEntry;

typedef struct NormalizeMemo
{
	MemoryContext mcxt;
	char	   *returned;		/* the chunk the last call returned, if any */
	char	   *retired;		/* a replaced entry's chunk, freed later */
	MemoEntry	slots[MEMO_SLOTS];
} NormalizeMemo;

/* The input bytes of an entry, after its (padded) result. */
#define MEMO_ENTRY_IN(e)	((e)->buf + INTALIGN(VARSIZE((text *) (e)->buf)))

static text *normalize_label(text *in);

static void
icu_check(UErrorCode status, const char *what)
{
	if (U_FAILURE(status))
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("ICU %s failed: %s", what, u_errorName(status))));
}

static bool
is_delimiter(unsigned char c)
{
	return c == ' ' || c == '/' || c == '?' || c == '#' || c == '&' ||
		c == '=' || c == ';' || c == ',' || c == ':';
}

static bool
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* Rules (a)-(d) of the header, on one segment of the folded UTF-8 text. */
static bool
segment_is_id(const char *s, int len)
{
	int			digits = 0;
	int			hex = 0;
	bool		idchars = true;
	int			i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) s[i];

		if (c >= '0' && c <= '9')
			digits++;
		if (is_hex(c))
			hex++;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '-'))
			idchars = false;
	}
	if (len == 0 || !idchars)
		return false;
	if (digits == len)
		return true;				/* (a) */
	if (len == 36)
	{
		bool		uuid = true;

		for (i = 0; i < len && uuid; i++)
		{
			bool		dash = (i == 8 || i == 13 || i == 18 || i == 23);

			uuid = dash ? s[i] == '-' : is_hex((unsigned char) s[i]);
		}
		if (uuid)
			return true;			/* (b) */
	}
	if (hex == len && len >= 16)
		return true;				/* (c) */
	if (len >= 8 && digits * 4 >= len)
		return true;				/* (d) */
	return false;
}

/*
 * Rule 3 of the header: write the folded text with id-like segments
 * replaced to dst, which has room for 4 * utf8len bytes ("{id}" replaces a
 * segment of at least one byte); returns the length written.
 */
static int
replace_ids(char *dst, const char *utf8, int utf8len)
{
	int			pos = 0;
	int			n = 0;

	while (pos < utf8len)
	{
		int			start = pos;

		if (is_delimiter((unsigned char) utf8[pos]))
		{
			dst[n++] = utf8[pos++];
			continue;
		}
		while (pos < utf8len && !is_delimiter((unsigned char) utf8[pos]))
			pos++;
		if (segment_is_id(utf8 + start, pos - start))
		{
			memcpy(dst + n, "{id}", 4);
			n += 4;
		}
		else
		{
			memcpy(dst + n, utf8 + start, pos - start);
			n += pos - start;
		}
	}
	return n;
}

/* End the segment out[seg..n): "{id}" if it is id-like; returns the new end. */
static inline int
end_segment(char *out, int seg, int n)
{
	if (n > seg && segment_is_id(out + seg, n - seg))
	{
		memcpy(out + seg, "{id}", 4);
		return seg + 4;
	}
	return n;
}

/*
 * The same normalization for an all-ASCII label, without ICU; NULL if the
 * label is not all ASCII.  On ASCII, NFKC_Casefold maps A-Z to a-z and
 * leaves every other character as it is (no ASCII character has a
 * compatibility decomposition or is default ignorable), and the Unicode
 * White_Space characters of ASCII are TAB, LF, VT, FF, CR and the space.
 * ASCII bytes mean the same in every server encoding, so no conversion is
 * needed either.  test/sql/usage_distinct_percentiles.sql and
 * usage_fast_paths.sql compare this path with the ICU one.
 */
static text *
normalize_ascii(const char *src, int srclen)
{
	/*
	 * One pass: fold, collapse white space and replace ids as each segment
	 * ends.  The folded text is at most srclen bytes and "{id}" replaces a
	 * segment of at least one byte, so the result is at most 4 srclen.
	 */
	text	   *res = palloc(VARHDRSZ + 4 * (Size) srclen + 1);
	char	   *out = VARDATA(res);
	int			n = 0;			/* bytes written */
	int			seg = 0;		/* start of the current segment */
	bool		space = false;	/* white space seen after some text */

	for (int i = 0; i < srclen; i++)
	{
		unsigned char c = (unsigned char) src[i];

		if (c >= 0x80)
		{
			pfree(res);
			return NULL;
		}
		if (c == ' ' || (c >= 0x09 && c <= 0x0d))
		{
			space = n > 0;
			continue;
		}
		if (space)
		{
			n = end_segment(out, seg, n);
			out[n++] = ' ';
			seg = n;
			space = false;
		}
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (is_delimiter(c))
		{
			n = end_segment(out, seg, n);
			out[n++] = (char) c;
			seg = n;
		}
		else
			out[n++] = (char) c;
	}
	n = end_segment(out, seg, n);
	SET_VARSIZE(res, VARHDRSZ + n);
	return res;
}

/*
 * normalize_step(text) → text: through the memo of the call site; a miss
 * normalizes an all-ASCII label without ICU, others with ICU.
 */
Datum
apivalue_normalize_step(PG_FUNCTION_ARGS)
{
	text	   *in = PG_GETARG_TEXT_PP(0);
	const char *src = VARDATA_ANY(in);
	int			srclen = VARSIZE_ANY_EXHDR(in);
	NormalizeMemo *memo = (NormalizeMemo *) fcinfo->flinfo->fn_extra;
	MemoEntry  *e;
	uint32		hash;
	text	   *out;
	Size		outsize;
	int			need;

	if (srclen > MEMO_MAX_LEN)
	{
		out = normalize_ascii(src, srclen);
		PG_RETURN_TEXT_P(out ? out : normalize_label(in));
	}
	if (memo == NULL)
	{
		memo = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(NormalizeMemo));
		memo->mcxt = fcinfo->flinfo->fn_mcxt;
		fcinfo->flinfo->fn_extra = memo;
	}
	hash = hash_bytes((const unsigned char *) src, srclen);
	e = &memo->slots[hash & (MEMO_SLOTS - 1)];
	if (e->buf && e->hash == hash && e->inlen == srclen &&
		memcmp(MEMO_ENTRY_IN(e), src, srclen) == 0)
	{
		e->hit = true;
		memo->returned = e->buf;
		PG_RETURN_TEXT_P((text *) e->buf);
	}

	out = normalize_ascii(src, srclen);
	if (out == NULL)
		out = normalize_label(in);
	if (e->buf && e->hit)
	{
		/* spare a label that was hit; return the result unstored */
		e->hit = false;
		memo->returned = NULL;
		PG_RETURN_TEXT_P(out);
	}
	outsize = VARSIZE(out);
	need = INTALIGN(outsize) + Max(srclen, 1);
	if (e->buf && (e->cap < need || e->buf == memo->returned))
	{
		if (e->buf == memo->returned)
		{
			if (memo->retired)
				pfree(memo->retired);
			memo->retired = e->buf;
		}
		else
			pfree(e->buf);
		e->buf = NULL;
	}
	if (e->buf == NULL)
	{
		e->cap = Max(need, 64);
		e->buf = MemoryContextAlloc(memo->mcxt, e->cap);
	}
	memcpy(e->buf, out, outsize);
	memcpy(MEMO_ENTRY_IN(e), src, srclen);
	e->inlen = srclen;
	e->hash = hash;
	e->hit = false;
	memo->returned = NULL;
	PG_RETURN_TEXT_P(out);
}

/*
 * The normalization itself (steps 1-3 of the header comment).
 */
static text *
normalize_label(text *in)
{
	const char *src = VARDATA_ANY(in);
	int			srclen = VARSIZE_ANY_EXHDR(in);
	const UNormalizer2 *nfkc_cf;
	UErrorCode	status = U_ZERO_ERROR;
	UChar	   *u;
	UChar	   *f;
	int32_t		ulen,
				flen,
				cap,
				i,
				k;
	char	   *utf8;
	int32_t		utf8len;
	char	   *ids;
	int			idslen;

	/* to UTF-8 (a no-op in a UTF-8 database), then to UTF-16 for ICU */
	src = pg_server_to_any(src, srclen, PG_UTF8);
	if (src != VARDATA_ANY(in))
		srclen = strlen(src);

	u = palloc((srclen + 1) * sizeof(UChar));
	u_strFromUTF8(u, srclen + 1, &ulen, src, srclen, &status);
	icu_check(status, "conversion from UTF-8");

	nfkc_cf = unorm2_getNFKCCasefoldInstance(&status);
	icu_check(status, "NFKC_Casefold instance");
	/* folding can expand; retry once with the size ICU asks for */
	cap = ulen * 2 + 16;
	f = palloc(cap * sizeof(UChar));
	flen = unorm2_normalize(nfkc_cf, u, ulen, f, cap, &status);
	if (status == U_BUFFER_OVERFLOW_ERROR)
	{
		status = U_ZERO_ERROR;
		cap = flen + 1;
		f = repalloc(f, cap * sizeof(UChar));
		flen = unorm2_normalize(nfkc_cf, u, ulen, f, cap, &status);
	}
	icu_check(status, "normalization");

	/* trim and collapse white space, in place */
	for (i = 0, k = 0; i < flen; i++)
	{
		if (u_isUWhiteSpace(f[i]))
		{
			if (k > 0 && f[k - 1] != ' ')
				f[k++] = ' ';
		}
		else
			f[k++] = f[i];
	}
	if (k > 0 && f[k - 1] == ' ')
		k--;
	flen = k;

	/* back to UTF-8 */
	u_strToUTF8(NULL, 0, &utf8len, f, flen, &status);
	if (status == U_BUFFER_OVERFLOW_ERROR)
		status = U_ZERO_ERROR;
	icu_check(status, "conversion to UTF-8");
	utf8 = palloc(utf8len + 1);
	u_strToUTF8(utf8, utf8len + 1, &utf8len, f, flen, &status);
	icu_check(status, "conversion to UTF-8");

	/* id-like segments */
	ids = palloc((Size) utf8len * 4 + 1);
	idslen = replace_ids(ids, utf8, utf8len);
	ids[idslen] = '\0';

	/* back to the database encoding */
	{
		char	   *res = pg_any_to_server(ids, idslen, PG_UTF8);

		return cstring_to_text(res);
	}
}
