"""Events out: signed webhooks that keep the booking platform in step.

    emit          what a booking change, a conflict or a dead letter becomes as an event
    outbox        queueing it for the merchant's subscriptions, in the change's transaction
    models        subscriptions, and one delivery row per event and subscription
    queue         the sender's store side: lane heads claimed under a lease, outcomes recorded
    attempt       one signed POST and what its answer settles (delivered, retry, failed)
    signing       Standard Webhooks signatures and secrets
    sender        the background service delivering them (syncd.wiring.BACKGROUND_SERVICES),
                  its outcomes recorded in group commits (syncd/store/group_commit.py)
    subscriptions management for the admin API (syncd/api/routes_webhooks.py) and the CLI
    views, cli    what the API and `syncd webhooks` / `syncd check` show: never a secret
"""
