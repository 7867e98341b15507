"""Monitors (SPEC 12): a diagnosis asked again on a schedule, its trend, what changed, alerts.

Imports go one way: schedule, statistics, trend, rules (pure) -> webhooks -> service, scheduler.
Runs are created through the engine's front door (Engine.create with a MonitorSlot), never by
writing execution rows here.
"""
