"""What starts runs by itself: the watch sensor over card folders (and the card folders and
their JobSpecs), the inbox sensor and the JobSpec files it reads, and the orphaned-runs sensor."""
