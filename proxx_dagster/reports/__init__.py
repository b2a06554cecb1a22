"""What proxx reports after runs end: the night report (run queries, HTML page, sensor) and a
failed batch's outcome."""
