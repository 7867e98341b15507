"""What only the scaled-out deployment needs (SPEC 11): the queue runner and worker, the Redis
broker, cross-worker limits, the shared live cache, the reconciler. Imports the engine's seams;
the engine never imports it.
"""
