-- Retention (theia-sf's DELETE_STALE_FLOWS task): rows inserted before the cutoff go.
DELETE FROM FLOWS WHERE timeInserted < :cutoff;
