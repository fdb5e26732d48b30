-- PostgreSQL's text keys move to byte-wise ("C") comparison in this
-- migration; SQLite has always compared them so (BINARY). Nothing to do.
SELECT 1;
