"""After a job COMPLETED: what leaves proxx with its proxies. The ASC MHL seal of the proxy
folder and the check of a card's own MHL (`mhl`), the editorial files ALE and FCPXML
(`editorial`), and the one hand-off both `proxx run` and the Dagster ops call (`job`).
Pure of any orchestrator."""
