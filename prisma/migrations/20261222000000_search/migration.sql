-- Full-text search over entry names and extracted text (issue 12 point 5,
-- decision 52). Both columns are generated, so every write path (upload,
-- rename, overwrite, the processing step storing its text) keeps them right
-- with no code of its own; a rename recomputes one short name vector.

-- The text search configuration (language) of the stored vectors and of the
-- queries. A generated column needs an immutable expression, so the language
-- is this IMMUTABLE function's answer: 'simple' (no stemming, no stop words:
-- right for names and mixed languages). SEARCH_LANGUAGE asks for another one;
-- at startup the server replaces the function and recomputes the columns
-- (src/modules/search/search-language.ts), so vectors and queries never
-- disagree.
CREATE FUNCTION cabinet_search_config() RETURNS regconfig
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT 'simple'::regconfig $$;

-- Names: ".", "_" and "-" separate words ("q3_report-final.pdf" finds "report"
-- and "pdf"), weighted A so a name hit ranks above a hit in the text.
ALTER TABLE "entries" ADD COLUMN "search_tsv" tsvector
  GENERATED ALWAYS AS (setweight(to_tsvector(cabinet_search_config(), translate("name", '._-', '   ')), 'A')) STORED;
CREATE INDEX "entries_search_tsv_idx" ON "entries" USING GIN ("search_tsv");

-- Text and transcripts: the first 262,144 characters are indexed (a tsvector
-- holds at most 1 MB, and the stored text is capped at 1 MiB anyway).
ALTER TABLE "blob_texts" ADD COLUMN "search_tsv" tsvector
  GENERATED ALWAYS AS (to_tsvector(cabinet_search_config(), left("text", 262144))) STORED;
CREATE INDEX "blob_texts_search_tsv_idx" ON "blob_texts" USING GIN ("search_tsv");
