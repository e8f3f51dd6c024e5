-- Version 6: a text may be stored as a composite (texts.py): another text of the same scope and what
-- surrounds it, its body a BLOB marked 0x11. Nothing to change in the tables; the version tells an older
-- Threadline that it cannot read this database.
SELECT 1;
