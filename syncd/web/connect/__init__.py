"""The connect pages: a staff member connects their own calendar (syncd/connect does the work).

Mounted at /connect beside the manage pages, with their rules: the same frame
(security headers, no-store, the failure rate limit, error pages), Host check
and CSRF guard; one 404 page for every link that does not work.
"""
