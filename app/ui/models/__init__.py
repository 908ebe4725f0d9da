"""Item models behind the pages' views: plain records in, Qt roles out."""
