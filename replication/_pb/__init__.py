"""Generated from proto/replication.proto by ``make proto`` (run by ``make install``); never edited by hand."""
