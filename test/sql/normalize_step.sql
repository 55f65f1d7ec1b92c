-- normalize_step: ICU NFKC case folding, white space, id-like segments.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS apivalue;
RESET client_min_messages;

SELECT label, apivalue.normalize_step(label) AS normalized
FROM (VALUES
  -- full-width letters and digits, ideographic space
  (U&'\FF27\FF25\FF34\3000/\FF55\FF53\FF45\FF52\FF53/\FF11\FF12'),
  -- combining accent vs precomposed: both become the precomposed form
  (U&'cafe\0301'), (U&'caf\00E9'),
  -- Turkish dotted capital I: default (not Turkic) folding gives i + U+0307
  (U&'\0130stanbul'), ('ISTANBUL'),
  -- German sharp s folds to ss; ligature fi to f i
  (U&'Stra\00DFe'), (U&'\FB01le'),
  -- mixed-case methods, white space trimmed and collapsed (tab, NBSP, newline)
  (U&'  Get\0009\00A0/Users   /Me\000A'), ('POST /v1/Orders'), ('post /v1/orders'),
  -- zero-width space is default-ignorable and goes
  (U&'check\200Bout'),
  -- numeric, UUID, hex, digit-rich segments
  ('/users/8812/keys/9f2c3a4b5d6e7f8091a2'),
  ('/orders/123E4567-E89B-12D3-A456-426614174000/items'),
  ('/objects/deadbeefdeadbeef'),       -- 16 hex digits, no decimal digit
  ('/objects/deadbeef'),               -- 8 hex letters: a word, kept
  ('/orders/ord_8f7a6b5c4d/refund'),   -- digit-rich token
  ('/auth/oauth2_callback'),           -- kept: 1 digit in 15
  ('/convert/utf8_to_utf16'),          -- kept: 3 digits in 13
  ('/api/v2/users/42?page=3&sort=name'),
  ('/files/12345.json'),               -- '.' is not a delimiter: kept
  ('/users/{id}'),                     -- already normalized: unchanged
  (''), ('   '), (NULL)
) v(label);

-- the exact code points where the display cannot show them
SELECT apivalue.normalize_step(U&'cafe\0301') = U&'caf\00E9' AS composed,
       apivalue.normalize_step(U&'\0130stanbul') = U&'i\0307stanbul' AS dotted_i,
       apivalue.normalize_step(U&'\FF21\3000\00A0B') = 'a b' AS fullwidth_and_spaces;

-- idempotent on those labels and on random ones
SELECT setseed(0.31);
SELECT count(*) AS labels,
       count(*) FILTER (WHERE apivalue.normalize_step(apivalue.normalize_step(l))
                              IS DISTINCT FROM apivalue.normalize_step(l)) AS not_idempotent
FROM (SELECT string_agg(chr((ARRAY[32, 47, 48, 65, 97, 223, 304, 776, 12288, 65313])[1 + floor(random() * 10)::int]
                            + (CASE WHEN random() < 0.5 THEN floor(random() * 9)::int ELSE 0 END)), '')
             AS l
      FROM generate_series(1, 500) g, generate_series(1, 12) c GROUP BY g) x;

-- volatility and parallel safety as declared
SELECT provolatile, proparallel, proisstrict FROM pg_proc
WHERE oid = 'apivalue.normalize_step(text)'::regprocedure;
