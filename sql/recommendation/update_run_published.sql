UPDATE RECOMMENDATION_RUNS SET
    yamlUri = :yaml_uri,
    reportUri = :report_uri,
    publishedAt = :published_at
WHERE runId = :run_id
