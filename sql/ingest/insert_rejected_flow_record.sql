INSERT INTO REJECTED_FLOW_RECORDS (fileKey, etag, lineNumber, reason, line)
VALUES (:file_key, :etag, :line_number, :reason, :line);
