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

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

PG_FUNCTION_INFO_V1(apivalue_normalize_step);

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

Datum
apivalue_normalize_step(PG_FUNCTION_ARGS)
{
	text	   *in = PG_GETARG_TEXT_PP(0);
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
	StringInfoData out;
	int			pos;

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
	initStringInfo(&out);
	pos = 0;
	while (pos < utf8len)
	{
		int			start = pos;

		if (is_delimiter((unsigned char) utf8[pos]))
		{
			appendStringInfoChar(&out, utf8[pos]);
			pos++;
			continue;
		}
		while (pos < utf8len && !is_delimiter((unsigned char) utf8[pos]))
			pos++;
		if (segment_is_id(utf8 + start, pos - start))
			appendStringInfoString(&out, "{id}");
		else
			appendBinaryStringInfo(&out, utf8 + start, pos - start);
	}

	/* back to the database encoding */
	{
		char	   *res = pg_any_to_server(out.data, out.len, PG_UTF8);

		PG_RETURN_TEXT_P(cstring_to_text(res));
	}
}
