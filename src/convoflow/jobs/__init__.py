"""Background work: outbox delivery, effects (HTTP calls, end actions) and the sweeper.

Work is handed to taskiq (:mod:`convoflow.jobs.broker`): its in-memory broker runs the jobs
inside ``convoflow serve`` for the embedded default, its Redis Streams broker hands them to
``convoflow worker`` processes when ``CONVOFLOW_REDIS_URL`` is set. Every job is idempotent
and every piece of work is durable in the database first, so a lost or repeated job changes
nothing: the sweeper re-runs whatever is still pending.
"""
