"""The jobs proxx contributes and what they are made of: the proxx op, `proxx_job` and the
document job, the folder (card) job, the batch, the audit job, and the executors they run on."""
