"""After-the-fact tools that work on results, beside the execution path and never inside it:
audit (sizes and SHA-256s against a result), reproduce (run a recorded JobSpec again and compare),
posters and contact sheets, HTML page helpers, and sample clips made with the pinned engine.

No module of the execution path (the top level of `proxx_exec`, except the CLI that offers
these tools as commands) imports this package.
"""
