-- Load history older than the cutoff is pruned with the rows it describes; ingestion
-- ignores files last modified before the same cutoff, so pruning never causes a reload.
DELETE FROM LOAD_HISTORY WHERE lastModified < :cutoff;
