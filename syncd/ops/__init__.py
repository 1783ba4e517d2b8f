"""Running syncd in production: what operators and their tools look at.

    health        /healthz (alive) and /readyz (database takes a write, migrations,
                  worker heartbeat)
    http_metrics  request latency of the API and pages, labelled by route template
    connector_metrics
                  the connectors' reports of their traffic (Graph), counted
    samples       the database readings behind the deployment-wide gauges
    collector     those gauges, read at scrape time with a short cache
    worker_gauge  the worker loop's heartbeat as a gauge (its age), for alerting
    listener      the metrics listener: /metrics, /healthz, /readyz on a port of its own
    systemd       READY=1 / STOPPING=1 to systemd (Type=notify)
    ports         who listens on a local port, to name it when a port is taken

The metric names are listed in README.md ("Metrics"); the counters counted in
the process are defined in syncd/metrics.py.
"""
