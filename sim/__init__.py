"""The seeded fault campaign (issue 9): the real engine, executor and vault in one asyncio
loop, wired by links that drop, lose, delay and duplicate calls, with crashes, restarts,
interleavings and cancellations; invariants checked after every step. One seed, one schedule."""
